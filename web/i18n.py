"""Languages and formats for the pages: zh-CN and English, chosen from Accept-Language or a cookie.

Templates write English and call `_("...")`; `ZH` maps each English text to Chinese. Money, numbers and
dates are formatted here so that every page shows them the same way (¥1,234.50).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

LOCALES = ("zh-CN", "en")
DEFAULT_LOCALE = "zh-CN"
LANG_COOKIE = "shuyu_lang"
# China Standard Time, shown to every user: the platform, its offices and its treasury run on it.
CST = timezone(timedelta(hours=8), "UTC+8")
SYMBOLS = {"CNY": "¥", "USD": "US$", "EUR": "€", "HKD": "HK$"}


def negotiate(accept_language: str | None) -> str:
    """The best supported locale for an Accept-Language header (q-values honoured)."""
    ranked: list[tuple[float, int, str]] = []
    for position, part in enumerate((accept_language or "").split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        ranked.append((-quality, position, tag.strip().lower()))
    for _, _, tag in sorted(ranked):
        if tag.startswith("zh"):
            return "zh-CN"
        if tag.startswith("en"):
            return "en"
    return DEFAULT_LOCALE


def chosen(cookie: str | None, accept_language: str | None) -> str:
    return cookie if cookie in LOCALES else negotiate(accept_language)


def translate(locale: str, text: str, **values: object) -> str:
    template = ZH.get(text, text) if locale == "zh-CN" else text
    return template.format(**values) if values else template


def label(locale: str, kind: str, value: str | None) -> str:
    """The display name of an enumerated value (a status, a grade, a role ...)."""
    if value is None:
        return ""
    names = LABELS.get(kind, {}).get(value)
    if names is None:
        return value
    return names[0] if locale == "zh-CN" else names[1]


def number(value: float | int | None, digits: int = 0) -> str:
    if value is None:
        return "—"
    return f"{value:,.{digits}f}"


def plain(value: float | int | None) -> str:
    """A bound or key as people write it: 100,000 rather than 100000.0."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return f"{value:,}" if isinstance(value, int) else f"{value:,.6g}"


def value(item: object) -> str:
    """A released value: whole numbers as such, others with two decimals; text as it is."""
    if isinstance(item, bool) or not isinstance(item, int | float):
        return "—" if item is None else str(item)
    if isinstance(item, int) or item.is_integer():
        return f"{int(item):,}"
    return f"{item:,.2f}"


def money(minor: int | None, currency: str = "CNY") -> str:
    """Minor units as the locale writes them: ¥1,234.50 (both zh-CN and English use the same form)."""
    if minor is None:
        return "—"
    sign = "-" if minor < 0 else ""
    whole, cents = divmod(abs(minor), 100)
    symbol = SYMBOLS.get(currency, currency + " ")
    return f"{sign}{symbol}{whole:,}.{cents:02d}"


def epsilon(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:.4g}" if abs(value) >= 1e-4 or value == 0 else f"{value:.2e}"


def when(locale: str, at: datetime | None, with_time: bool = True) -> str:
    if at is None:
        return "—"
    local = (at if at.tzinfo else at.replace(tzinfo=UTC)).astimezone(CST)
    clock = local.strftime(" %H:%M") if with_time else ""
    if locale == "zh-CN":
        return f"{local.year}年{local.month}月{local.day}日{clock}"
    return local.strftime("%d %b %Y") + clock


LABELS: dict[str, dict[str, tuple[str, str]]] = {
    "grade": {"general": ("一般数据", "General"), "important": ("重要数据", "Important"), "core": ("核心数据", "Core")},
    "status": {
        "draft": ("草稿", "Draft"), "submitted": ("待审核", "Submitted"), "published": ("已发布", "Published"),
        "rejected": ("已驳回", "Rejected"), "changes_requested": ("需修改", "Changes requested"),
        "suspended": ("已暂停", "Suspended"), "retired": ("已下架", "Retired"),
        "ordering_paused": ("暂停订购", "Ordering paused"),
        "pending_approval": ("待审批", "Pending approval"), "awaiting_payment": ("待付款", "Awaiting payment"),
        "active": ("有效", "Active"), "expired": ("已到期", "Expired"), "revoked": ("已撤销", "Revoked"),
        "refunded": ("已退款", "Refunded"), "pending": ("待确认", "Pending"), "succeeded": ("已到账", "Received"),
        "failed": ("失败", "Failed"), "partially_refunded": ("部分退款", "Partly refunded"),
        "expired_session": ("已过期", "Expired"), "open": ("待支付", "Open"),
    },
    "scenario": {"public_governance": ("公共治理", "Public governance"),
                 "public_welfare": ("公益事业", "Public welfare"), "industry": ("产业发展", "Industry")},
    "role": {
        "provider": ("供数单位", "Provider"), "data_office": ("数据主管部门", "Data office"),
        "enterprise": ("数据企业", "Enterprise"), "finance": ("财务", "Finance"), "admin": ("平台运营", "Operator"),
    },
    "column_role": {
        "dimension": ("维度", "Dimension"), "measure": ("度量", "Measure"),
        "identifier": ("标识符", "Identifier"), "excluded": ("不可用", "Excluded"),
    },
    "decision": {"approve": ("通过", "Approve"), "reject": ("驳回", "Reject"),
                 "request_changes": ("退回修改", "Request changes")},
    "account_type": {"asset": ("资产", "Asset"), "liability": ("负债", "Liability"), "equity": ("权益", "Equity"),
                     "revenue": ("收入", "Revenue"), "expense": ("费用", "Expense")},
    "method": {"bank_transfer": ("银行转账", "Bank transfer"), "stripe": ("在线支付", "Card (Stripe)")},
    "severity": {"error": ("错误", "Error"), "warning": ("警告", "Warning"), "info": ("提示", "Note")},
    "looks_like": {"id_card": ("疑似身份证号", "looks like ID-card numbers"),
                   "mobile_phone": ("疑似手机号", "looks like mobile numbers"),
                   "unique_per_row": ("每行唯一", "unique per row")},
    "finding": {"identifier-exposed": ("疑似个人标识字段被用作维度或度量",
                                       "An identifier-like column is a dimension or measure"),
                "values-outside-bounds": ("数据超出取值范围", "Values fall outside the bounds"),
                "keys-never-occur": ("部分公开取值在数据中从未出现", "Some public keys never occur in the data"),
                "values-not-in-keys": ("数据中有不在公开取值内的值", "The data holds values outside the public keys"),
                "keys-unknown": ("维度没有公开取值", "The dimension has no public keys"),
                "keys-suggested": ("可从数据中确认公开取值", "Keys could be confirmed from the data")},
    "action": {
        "submit": ("提交", "Submitted"), "submit_revision": ("提交变更", "Change submitted"),
        "publish": ("发布", "Published"), "reject": ("驳回", "Rejected"),
        "request_changes": ("退回修改", "Changes requested"), "approve_revision": ("批准变更", "Change approved"),
        "reject_revision": ("驳回变更", "Change rejected"),
        "request_revision_changes": ("退回变更", "Change sent back"), "move_version": ("更新版本", "New version"),
        "suspend": ("暂停", "Suspend"), "resume": ("恢复", "Resume"), "pause_ordering": ("暂停订购", "Pause ordering"),
        "resume_ordering": ("恢复订购", "Resume ordering"), "retire": ("下架", "Retire"),
        "raise_grade": ("提高分级", "Raise the grade"), "lower_grade": ("降低分级", "Lower the grade"),
        "request_lower_grade": ("申请降低分级", "Lowering requested"), "correct": ("更正", "Correction"),
    },
    "revision": {"version": ("新版本", "New version"), "dictionary": ("数据字典变更", "Dictionary change"),
                 "grade": ("分级调整", "Grade change"), "initial": ("首次审核", "First review")},
    "licence_action": {"suspend": ("暂停", "Suspend"), "resume": ("恢复", "Resume"), "revoke": ("撤销", "Revoke")},
    "group_by": {"month": ("按月", "by month"), "listing": ("按数据产品", "by listing"),
                 "provider": ("按供数单位", "by provider"), "scenario": ("按场景", "by scenario")},
    "recon": {"matched": ("已匹配", "Matched"), "missing_in_ledger": ("账簿中缺失", "Missing in the ledger"),
              "missing_in_stripe": ("Stripe 中缺失", "Missing in Stripe"),
              "mismatches": ("金额或手续费不符", "Amount or fee mismatches"),
              "payout_mismatches": ("结算金额不符", "Payouts that do not add up")},
    "sort": {"relevance": ("相关度", "Relevance"), "newest": ("最新", "Newest"), "title": ("标题", "Title"),
             "price_asc": ("价格从低到高", "Price, low to high"), "price_desc": ("价格从高到低", "Price, high to low")},
}

ZH: dict[str, str] = {
    # layout
    "Shuyu": "数域",
    "Public data, authorized: raw data never leaves its domain": "公共数据授权运营 · 原始数据不出域 · 数据可用不可见",
    "Catalog": "数据目录",
    "Sign in": "登录",
    "Sign out": "退出",
    "Register an enterprise": "企业注册",
    "Language": "语言",
    "Main navigation": "主导航",
    "My licences": "我的许可",
    "My data": "我的数据",
    "Review": "审核",
    "Audit log": "审计日志",
    "Bank transfers": "银行转账",
    "Ledger": "账簿",
    "Signed in as {email} ({role}, {org})": "{email}（{role}，{org}）",
    "Results are differentially private; raw data never leaves the sandbox.":
        "结果均经差分隐私处理；原始数据从不离开沙箱。",
    "Skip to content": "跳到正文",
    # errors
    "Something went wrong": "出错了",
    "Something went wrong on our side; nothing you sent was lost. Try again, or tell the operator.":
        "系统内部出错，您提交的内容没有丢失。请重试，或联系平台运营方。",
    "Page not found": "页面不存在",
    "There is no page at this address.": "这个地址没有页面。",
    "Back to the catalog": "返回数据目录",
    "Not authenticated": "尚未登录",
    "Forbidden": "无权访问",
    "Not found": "未找到",
    "Conflict": "状态冲突",
    "Invalid input": "输入有误",
    "The form expired: reload the page and send it again": "表单已过期：请刷新页面后重新提交",
    "What went wrong": "问题",
    "Query history": "查询历史",
    # titles of the services' errors (their sentences stay as the services wrote them)
    "Temporarily unavailable": "暂时不可用",
    "The form expired": "表单已过期",
    "Already registered": "已注册",
    "The unified social credit code is not valid": "统一社会信用代码无效",
    "The licence is not active": "许可未生效",
    "The licence is not in a state that allows this": "许可当前状态不允许此操作",
    "The listing is not in a state that allows this": "数据产品当前状态不允许此操作",
    "The privacy budget is exhausted": "隐私预算已用完",
    "The query quota is used up": "查询次数已用完",
    "The query is not allowed": "不允许此查询",
    "The ε asked for is not allowed": "所请求的 ε 不被允许",
    "The same query is running": "相同的查询正在运行",
    "The query failed in the sandbox; nothing was charged": "沙箱中查询失败，未扣预算",
    "The payment cannot be changed this way": "付款不能这样更改",
    "The file cannot be read as a dataset": "无法将文件读取为数据集",
    "The file is too large": "文件过大",
    "The data dictionary does not fit the dataset": "数据字典与数据集不符",
    "Core data can never be published": "核心数据不得发布",
    "Nobody reviews their own submission": "不得审核自己提交的内容",
    "A journal entry must balance": "会计分录必须借贷平衡",
    "This outside object is booked already": "该外部款项已入账",
    "The reason code is not on the list for this action": "原因代码不适用于此操作",
    "The offer is priced above the listing's ceiling price": "方案价格高于最高限价",
    "An offer is priced above the ceiling price": "方案价格高于最高限价",
    "The listing is suspended or retired": "数据产品已暂停或下架",
    "New licences on this listing are paused": "此数据产品暂停新的许可申请",
    "Card payment (Stripe) is not configured": "未配置在线支付（Stripe）",
    "Keys taken from the data need the provider's confirmation": "取自数据的取值需供数单位确认",
    "Nothing has changed since the approved version": "与已批准版本相比没有变化",
    # added pages
    "Action": "操作",
    "Subject and data": "对象与数据",
    "All licences": "全部许可",
    "All listings": "全部数据产品",
    "Amount (yuan)": "金额（元）",
    "Annual disclosure": "年度信息披露",
    "Annual disclosure {year}": "{year} 年度信息披露",
    "Any scenario": "全部场景",
    "Ceiling price": "最高限价",
    "Change the grade": "调整分级",
    "Checks against the data": "对照数据的检查",
    "Collected": "已收取",
    "Compare the CSV": "比对 CSV",
    "Confirmed": "确认时间",
    "Continue to payment": "前往付款",
    "Counts only: the enterprises' questions and answers are never shown to providers.":
        "仅显示计数：企业的查询内容和结果不会向供数单位展示。",
    "Differences": "存在差异",
    "From": "从",
    "Gross": "总收入",
    "History": "流转记录",
    "Keys become public: confirm only values that are public knowledge (such as the list of districts), "
    "never something the data reveals.":
        "取值将被公开：只确认属于公开常识的取值（例如行政区列表），不得确认由数据本身揭示的内容。",
    "Licences": "许可",
    "Licences granted": "授予许可数",
    "Listings of this dataset": "此数据集的数据产品",
    "My datasets": "我的数据集",
    "My listings": "我的数据产品",
    "Net": "净收入",
    "Net revenue by listing (yuan)": "各数据产品净收入（元）",
    "Net revenue by month (yuan)": "各月净收入（元）",
    "Next": "下一页",
    "No differences": "无差异",
    "No listings yet: upload a dataset, write its dictionary, then draft a listing.":
        "还没有数据产品：先上传数据集、编写数据字典，再起草数据产品。",
    "Owed to the treasury": "应缴国库",
    "Pages": "分页",
    "Pay by card (Stripe)": "在线刷卡支付（Stripe）",
    "Payment: {status}": "付款状态：{status}",
    "Payments": "付款笔数",
    "Period": "期间",
    "Previous": "上一页",
    "Privacy budget already spent is not given back: a refund returns money, not ε.":
        "已消耗的隐私预算不会退还：退款退的是钱，不是 ε。",
    "Processor fee": "支付手续费",
    "Pull from Stripe": "从 Stripe 拉取",
    "Raising a grade tightens the controls at once; lowering one opens a review.":
        "提高分级立即收紧管控；降低分级需另行审核。",
    "Reason": "原因",
    "Reconcile the ledger with Stripe": "与 Stripe 对账",
    "Reconciliations": "对账",
    "Record the remittance": "登记上缴",
    "Reference of the refund transfer": "退款转账参考号",
    "Refund": "退款",
    "Refund booked as a reversing entry; the licence is refunded.": "退款已以冲销分录入账，许可已标记为已退款。",
    "Refunded": "已退款金额",
    "Refunds": "退款",
    "Registration": "登记编号",
    "Remittance to the treasury recorded.": "已登记上缴国库。",
    "Remitted": "已上缴",
    "Renew: a new term with a new budget": "续期：新的期限和新的预算",
    "Resources authorized and their products": "授权运营的数据资源及其产品",
    "Revenue": "收入",
    "Review history": "审核记录",
    "Rows": "行数",
    "Sort": "排序",
    "Source": "来源",
    "Stripe balance-transactions CSV (optional)": "Stripe 余额交易 CSV（可选）",
    "Suspend, pause or retire": "暂停、暂停订购或下架",
    "Synthetic preview": "合成数据预览",
    "The card payment was cancelled; nothing was charged. You can pay again.":
        "刷卡支付已取消，未扣款。您可以重新付款。",
    "These rows are made up from the public dictionary only, never from the data: use them to write queries.":
        "这些行仅根据公开的数据字典生成，从不来自真实数据：可用来编写查询。",
    "These values are public knowledge": "这些取值属于公开常识",
    "To": "至",
    "Treasury": "国库",
    "Treasury receipt number": "缴款书编号",
    "Uploaded": "上传时间",
    "Usage of my listings": "我的数据产品使用情况",
    "Use the values seen as public keys": "将数据中出现的取值设为公开取值",
    "Use them": "使用",
    "Version": "版本",
    "What changed since the approved version": "与已批准版本相比的变化",
    "You are being sent to Stripe to pay {amount}.": "正在跳转到 Stripe 支付 {amount}。",
    "change": "变更",
    "proposed": "待审",
    "seen": "数据中",
    "{n} distinct": "{n} 个不同值",
    "{n} licences": "{n} 个许可",
    "ε spent": "已用 ε",
    # catalog
    "Search": "搜索",
    "Search the catalog": "搜索数据目录",
    "e.g. traffic / 交通": "例如 交通 / traffic",
    "Grade": "分级",
    "Any grade": "全部分级",
    "Sector": "行业",
    "Filter": "筛选",
    "{n} published listings": "{n} 个已发布数据产品",
    "No listings match.": "没有找到数据产品。",
    "Table": "表名",
    "Provider": "供数单位",
    "Updated": "更新周期",
    "Published": "发布时间",
    # listing
    "Data dictionary": "数据字典",
    "Column": "列",
    "Type": "类型",
    "Role": "角色",
    "Bounds": "取值范围",
    "Public keys": "公开取值",
    "Description": "说明",
    "Privacy unit": "隐私单元",
    "one row": "每一行",
    "each {column}, up to {n} rows": "每个 {column}，最多 {n} 行",
    "DP policy": "隐私策略",
    "Max ε per query": "单次查询 ε 上限",
    "Default ε": "默认 ε",
    "Min group size": "最小分组",
    "ε per enterprise (all licences)": "每家企业 ε 上限（全部许可）",
    "Offers": "许可方案",
    "Offer": "方案",
    "Scenario": "场景",
    "Price": "价格",
    "Term": "期限",
    "{n} days": "{n} 天",
    "ε budget": "ε 预算",
    "Queries": "查询次数",
    "Free": "免费",
    "Apply": "申请",
    "Apply for a licence": "申请许可",
    "Purpose": "用途",
    "What will you use the data for?": "您将如何使用这些数据？",
    "The data office reads it before approving important data.": "重要数据的许可需经数据主管部门审阅用途后批准。",
    "Sign in as an enterprise to apply.": "以数据企业身份登录后即可申请。",
    "Grade badge": "分级标识",
    "Queries return only differentially private aggregates; no row ever leaves the sandbox.":
        "查询只返回经差分隐私处理的汇总结果，任何一行原始数据都不会离开沙箱。",
    # sign in, register
    "Email": "邮箱",
    "Password": "密码",
    "Wrong email or password": "邮箱或密码错误",
    "No account yet?": "还没有账号？",
    "Enterprise name": "企业名称",
    "Unified social credit code": "统一社会信用代码",
    "18 characters, checked as you type": "18 位，输入时即校验",
    "The code is valid.": "代码有效。",
    "Your email (you sign in with it)": "您的邮箱（用于登录）",
    "Password (at least 8 characters)": "密码（至少 8 位）",
    "Register": "注册",
    "Registered: welcome, {name}.": "注册成功，欢迎 {name}。",
    # enterprise
    "Status": "状态",
    "Expires": "到期",
    "Budget": "预算",
    "spent": "已用",
    "left": "剩余",
    "ε spent {spent} of {budget}, {left} left": "ε 已用 {spent} / {budget}，剩余 {left}",
    "Queries used": "已用查询",
    "You hold no licences yet. Browse the catalog and apply.": "您还没有许可。请浏览数据目录并申请。",
    "Open the query console": "打开查询控制台",
    "Licence {id}": "许可 {id}",
    "Pay by bank transfer": "银行转账付款",
    "Waiting for the data office to approve this licence.": "等待数据主管部门审批此许可。",
    "Bank transfer instructions": "银行转账说明",
    "Transfer exactly this amount and quote the reference; finance activates the licence when it arrives.":
        "请按此金额转账并注明付款参考号；款项到账后由财务确认并激活许可。",
    "Amount": "金额",
    "Reference": "参考号",
    "Account name": "收款账户",
    "Bank": "开户行",
    "Note": "备注",
    "Back to my licences": "返回我的许可",
    "Query console": "查询控制台",
    "Columns you can use": "可用的列",
    "SQL": "SQL",
    "ε for this query": "本次查询的 ε",
    "Preview cost and accuracy": "预览成本与精度",
    "Run query": "运行查询",
    "Preview: nothing is run or charged": "预览：不会运行，也不扣预算",
    "Cost": "成本",
    "Budget left after": "运行后剩余预算",
    "Expected accuracy (± at 95%)": "预期精度（95% 置信 ±）",
    "Result": "结果",
    "Result {id}": "结果 {id}",
    "Chart": "图表",
    "ε charged": "扣除 ε",
    "ε left on the licence": "许可剩余 ε",
    "Answered from the stored result: nothing was charged.": "返回已存储的结果，未扣预算。",
    "Download the signed receipt (JSON)": "下载签名回执（JSON）",
    "Values carry ± at 95%; the bars show them as error bars.": "数值附带 95% 置信 ±，图中以误差线表示。",
    "Ask another question": "继续查询",
    "This licence is not active: queries need an active licence.": "此许可未生效，查询需要有效的许可。",
    "± (95%)": "±（95%）",
    "Receipt": "回执",
    "Signed with key {key}": "签名密钥 {key}",
    "Query": "查询",
    # provider
    "Upload a dataset": "上传数据集",
    "Dataset name (its table name in queries)": "数据集名称（查询中的表名）",
    "lower-case letters, digits and underscores": "小写字母、数字和下划线",
    "File (CSV or Parquet)": "文件（CSV 或 Parquet）",
    "Encoding": "编码",
    "Detect (UTF-8 or GB18030)": "自动识别（UTF-8 或 GB18030）",
    "Upload": "上传",
    "Uploading…": "上传中…",
    "The file is encrypted before it is written to disk.": "文件在写入磁盘之前即被加密。",
    "Dataset {name}": "数据集 {name}",
    "Version {v} · {rows} rows · {cols} columns": "第 {v} 版 · {rows} 行 · {cols} 列",
    "Write the data dictionary": "编写数据字典",
    "Low": "下限",
    "High": "上限",
    "Keys, comma-separated": "取值，以逗号分隔",
    "No identifier column: each row is one person": "无标识列：每行代表一个个体",
    "Max rows per person": "每个个体最多行数",
    "Save the dictionary": "保存数据字典",
    "Dictionary saved.": "数据字典已保存。",
    "Draft a listing": "起草数据产品",
    "Title": "标题",
    "Keywords, comma-separated": "关键词，以逗号分隔",
    "Update cycle": "更新周期",
    "Proposed grade": "建议分级",
    "Offer {n}": "方案 {n}",
    "optional": "可选",
    "Name": "名称",
    "Price (yuan)": "价格（元）",
    "Term (days)": "期限（天）",
    "Query quota": "查询次数",
    "Currency": "币种",
    "Create the draft": "创建草稿",
    "Listing {id}": "数据产品 {id}",
    "Submit for review": "提交审核",
    "Submitted: the data office will review it.": "已提交，等待数据主管部门审核。",
    "Approvals": "通过数",
    "Dataset": "数据集",
    # office
    "Listings to review": "待审核的数据产品",
    "Review a listing": "审核数据产品",
    "Decision": "决定",
    "Final grade": "最终分级",
    "Reason code": "原因代码",
    "Comment": "意见",
    "Ceiling price (yuan)": "最高限价（元）",
    "Record the decision": "提交审核决定",
    "Licences awaiting approval": "待审批的许可",
    "Listing": "数据产品",
    "Approve": "批准",
    "Reject": "驳回",
    "Nothing is waiting.": "没有待处理事项。",
    "Verify the chain": "校验哈希链",
    "The chain is intact: {n} events, head {head}.": "哈希链完整：共 {n} 条事件，链头 {head}。",
    "The chain is BROKEN at event {seq}: {reason}.": "哈希链在第 {seq} 条事件处断裂：{reason}。",
    "Decision recorded: the listing is now {status}.": "已记录审核决定：数据产品当前状态为「{status}」。",
    "Open a listing by its number": "按编号打开数据产品",
    "Open": "打开",
    # finance
    "Bank transfers to confirm": "待确认的银行转账",
    "Payment": "付款",
    "Licence": "许可",
    "Created": "创建时间",
    "Reference received": "收到的参考号",
    "Amount received (yuan)": "收到金额（元）",
    "Confirm": "确认到账",
    "Confirmed: payment {id} is booked and its licence is active.": "已确认：付款 {id} 已入账，许可已生效。",
    "Trial balance": "试算平衡表",
    "Account": "科目",
    "Code": "代码",
    "Debit": "借方",
    "Credit": "贷方",
    "Total": "合计",
    "Balanced": "借贷平衡",
    "NOT balanced": "借贷不平衡",
    "Journal": "日记账",
    "Entry": "分录",
    "At": "时间",
    "Kind": "类型",
    "Download CSV": "下载 CSV",
    "Recent payments": "近期付款",
    "Method": "方式",
    # --- p-policy ---
    "ε the dataset may lose in all": "该数据集 ε 总上限",
    "ε left for everyone": "所有企业剩余 ε",
    ("Every query spends some of this dataset's privacy budget, shared by all licensees; when it is spent, no "
     "more licences are sold and no more queries run on this version of the data."):
        "每次查询都会消耗该数据集的隐私预算，所有被许可方共用；预算用尽后，将停止订购，该版本数据也不再接受查询。",
    "This dataset's privacy budget is spent: ordering is closed.": "该数据集的隐私预算已用尽，已停止订购。",
    "Privacy budget of the dataset": "数据集隐私预算",
    "ε spent {spent} of {cap}, {left} left": "ε 已用 {spent}，总上限 {cap}，剩余 {left}",
    "Spent: ordering is closed and queries are refused.": "已用尽：停止订购，查询一律拒绝。",
    ("Spent includes queries in flight. Each enterprise may spend at most ε {cap} across its licences. A new "
     "version gets a fresh budget only if its data changed."):
        "已用量包含正在运行的查询。每个企业在全部许可中最多可用 ε {cap}。新版本仅在数据内容变化时才获得新的预算。",
    "Enterprise": "企业",
    "δ spent": "已用 δ",
    "Leave empty for the grade's defaults (general 40 and 10, important 12 and 3).":
        "留空则按分级默认值（一般数据 40 和 10，重要数据 12 和 3）。",
    # --- p-unit ---
    "What ε protects": "ε 保护的对象",
    "Public row bound: at most {n} rows.": "公开的行数上限：至多 {n} 行。",
    "(raw-data facts: staff only)": "（原始数据的事实：仅工作人员可见）",
    "Counted at upload, for you alone (and the data office reviewing your listing): never shown to enterprises or "
    "the public.": "上传时统计，仅您本人（以及审核您数据产品的数据局）可见：从不向企业或公众展示。",
    "One row is (Chinese)": "一行是（中文）",
    "One row is (English)": "一行是（英文）",
    "One unit is (Chinese)": "一个单位是（中文）",
    "One unit is (English)": "一个单位是（英文）",
    "Persons kept whole": "全部记录被保留的人数占比",
    "Privacy checklist": "隐私审核清单",
    "Public row bound": "公开的行数上限",
    "Rows kept": "保留的记录占比",
    "Rows per person": "每人记录数",
    "The row bound is published: a round number above any version's rows (e.g. 1,000,000), never the exact count. "
    "Blank: the platform's default of {n} rows.":
        "行数上限会公开：请填写高于各版本行数的整数（如 1,000,000），切勿填写确切行数。留空则使用平台默认值 {n} 行。",
    "Without your statement, only values seen in at least {rows} rows of at least {persons} persons are used; "
    "the statement is recorded.":
        "若不声明，只采用在数据中至少出现 {rows} 行、至少涉及 {persons} 人的取值；声明会被记录在案。",
    "k (rows kept per person)": "k（每人保留的记录数）",
    "max": "最大值",
    "none: cannot be grouped on": "无：不能按此字段分组",
    "stated public knowledge by the provider": "供数单位已声明属于公开常识",
    "typed, or seen often enough in the data": "人工填写，或在数据中出现次数足够多",
    "unit": "单位",
    "{n} keys": "{n} 个取值",
    "{persons} distinct values, {rows} rows": "{persons} 个不同取值，{rows} 行",
    "ε protects one unit: a person (or a firm, a vehicle). Wherever one person can have several rows, choose the "
    "identifier column as the unit and bound the rows each person contributes.":
        "ε 保护的是一个单位：一个人（或一家企业、一辆车）。只要一个人可能有多条记录，就应以标识字段为隐私单位，"
        "并限定每人贡献的记录数。",
    ("No reconciliation has been run yet. Pull from Stripe above, or compare a Stripe CSV; bank transfers are "
     "matched by importing a bank statement on the bank transfers page."):
        ("尚未进行过对账。可在上方从 Stripe 拉取或上传 Stripe CSV 进行比对；"
         "银行转账请在“银行转账”页面导入银行对账单进行匹配。"),
    # --- rules ---
    "Fee schedule": "收费公示",
    ("Every data product on sale and what it costs. Products for public governance and public welfare are free; "
     "products for industry are priced at or below the ceiling set by the data office. "
     "The fees go to the treasury as non-tax revenue."):
        "平台在售的全部数据产品及其收费标准。用于公共治理、公益事业的产品免费；用于产业发展的产品按不高于数据主管部门核定的最高限价收费。收费作为非税收入全额上缴财政。",
    "Product": "数据产品",
    "No product is on sale yet.": "目前还没有在售的数据产品。",
    "Something wrong with a price?": "对收费有疑问？",
    "File a complaint": "投诉或提出异议",
    "Complaints and objections": "投诉与异议",
    ("Anyone may complain about a data product or object to a registration during or after its public notice. "
     "The data office answers every one; you follow it with the tracking code you get, no account needed."):
        "任何人都可以对数据产品提出投诉，或在登记公示期间及之后对登记提出异议。数据主管部门会逐件答复；提交后您会得到一个查询码，无需账号即可查看处理结果。",
    "About the product": "投诉对象",
    "Product number (a complaint)": "数据产品编号（投诉）",
    "Registration code (an objection)": "登记编号（异议）",
    "Fill in one of the two: the product's number for a complaint, or the registration code for an objection.":
        "二者填写其一：投诉数据产品请填写产品编号，对登记提出异议请填写登记编号。",
    "What is wrong": "问题描述",
    "How to reach you (optional, seen by the data office only)": "联系方式（选填，仅数据主管部门可见）",
    "Submit": "提交",
    "Complaint status": "投诉处理进度",
    "Received. Keep this tracking code: it is the only way to read the reply without an account.":
        "已收到。请保存以下查询码：无需账号，凭此码即可查看答复。",
    "Filed": "提交时间",
    "Answered": "答复时间",
    "Reply": "答复",
    "The data office has not answered yet.": "数据主管部门尚未答复。",
    "Complaint {id} answered": "投诉（异议）{id} 已答复",
    "{n} waiting for an answer": "{n} 件待答复",
    "All": "全部",
    "Contact": "联系方式",
    "Reply to the filer": "答复内容",
    "Send the answer": "发送答复",
    "Nothing here.": "暂无记录。",
    "More": "更多",
    "Complaints": "投诉与异议",
    "Fees": "收费公示",
    "Rights": "数据权属",
    "Ownership": "所有权",
    "Right of use": "使用权",
    "Right to revenue": "收益权",
    "Data security review": "数据安全审查",
    "Important data is published only on a version whose latest data security review passed.":
        "重要数据只有在其版本最近一次数据安全审查结论为“通过”时才能发布。",
    "Version {n}": "第 {n} 版",
    "Risk": "风险等级",
    "No data security review yet.": "尚未进行数据安全审查。",
    "Findings": "审查发现",
    "Conclusion": "审查结论",
    "Record the review": "登记审查结论",
    "Back to the review": "返回审核页",
    "Effectiveness evaluation": "效能评估",
    ("How authorized operation served people this year, counted from the platform's own records: "
     "never anything about the data."):
        "本年度授权运营的成效，依据平台自身的业务记录统计，不涉及任何数据内容。",
    "Products published": "发布产品数",
    "Enterprises served": "服务企业数",
    "Queries answered": "完成查询数",
    "Query success rate": "查询成功率",
    "Operating costs": "运营成本",
    "Median review time": "审核时长（中位数）",
    "Median licence approval time": "许可审批时长（中位数）",
    "Satisfaction": "满意度",
    "{n} ratings": "{n} 条评价",
    "Complaints received / answered": "收到 / 已答复投诉",
    "Queries answered by month": "每月完成查询数",
    "Revenue less operating costs by month (yuan)": "每月收入减运营成本（元）",
    "Month": "月份",
    ("What operating the platform cost, month by month: the effectiveness evaluation sets revenue against it. "
     "Lines are never changed; a negative amount corrects an earlier one."):
        "平台每月的运营成本，效能评估以收入与之对照。已登记的记录不可修改；如需更正，请登记一笔负数金额。",
    "Category": "类别",
    "e.g. staff, cloud, security": "例如：人员、云资源、安全运维",
    "Record": "登记",
    "Rate this product": "评价该数据产品",
    "You rated this product {n} / 5. Thank you.": "您已为该产品评分 {n} / 5，谢谢。",
    "How well did it serve you? (1 poor – 5 excellent)": "该产品是否满足您的需要？（1 很差 – 5 很好）",
    "Comment (optional)": "意见（选填）",
    "Send the rating": "提交评价",
    "Back to the licence": "返回许可",
    "Evidence of public-interest use": "公益用途证明",
    "Revenue ceiling": "最高准许收入",
    ("The operator's revenue is capped each year at the ceiling approved by the authorizing body (cost plus a "
     "reasonable profit). What a year takes above what it was allowed is deducted from the next year's ceiling."):
        "运营机构每年的收入以授权主体核定的最高准许收入（成本加合理利润）为上限；当年超出准许收入的部分，在下一年度的准许收入中扣减。",
    "{year}: {revenue} of {allowed} allowed": "{year} 年：已收入 {revenue}，准许 {allowed}",
    "Year": "年度",
    "Approved ceiling": "核定最高准许收入",
    "Deducted from last year": "上年超收扣减",
    "Allowed": "本年准许收入",
    "Above the ceiling (deducted next year)": "超出部分（下年扣减）",
    "Basis": "依据",
    "No revenue ceiling has been set yet.": "尚未核定最高准许收入。",
    "Set the ceiling for a year": "核定年度最高准许收入",
    "Approved ceiling (yuan)": "最高准许收入（元）",
    "Basis (approval document, costs)": "依据（批复文件、成本测算）",
    "Set": "确定",
    "If refused, why": "如不通过，原因",
    "Evidence of public-interest use (free offers)": "公益用途证明（免费方案必填）",
    ("Free offers are for public governance and public welfare only: name the project, a document number or a "
     "link; the data office reviews eligibility before the licence starts."):
        "免费方案仅用于公共治理和公益事业：请写明项目名称、文件编号或链接；数据主管部门审核资格后许可方才生效。",
    # --- analyst ---
    "File (CSV, Excel or Parquet)": "文件（CSV、Excel 或 Parquet）",
    "Missing-value markers": "缺失值标记",
    "Empty: the usual markers (shown); or list yours, comma-separated, instead. Empty cells are always missing.":
        "留空则使用常见标记（如图所示）；或用逗号分隔列出您自己的标记代替。空单元格始终视为缺失。",
    "What changed in this version (for licensees)": "本版本的变更说明（告知被许可方）",
    "Changes": "变更",
    "Read as missing in {n} columns": "{n} 列中有值被读为缺失",
    "Export CSV": "导出 CSV",
    "Export Excel": "导出 Excel",
    "Ran on {dataset}, version {v}": "基于 {dataset} 第 {v} 版",
    "New data: {dataset} version {v} since {date}.": "数据已更新：{dataset} 第 {v} 版，自 {date} 起。",
    "Queries now run on it.": "查询现已基于该版本运行。",
    "Quality report": "数据质量报告",
    "Name to save it under": "保存名称",
    "Save query": "保存查询",
    "Saved queries and history": "已保存的查询与历史",
    "Saved queries": "已保存的查询",
    "Query saved.": "查询已保存。",
    "Search saved queries": "搜索已保存的查询",
    "Search by name or SQL": "按名称或 SQL 搜索",
    "Search the history": "搜索查询历史",
    "Search the history by SQL": "按 SQL 搜索查询历史",
    "Run again": "再次运行",
    "Edit in the console": "在控制台中编辑",
    "Forget": "删除",
    "Running a query you asked before returns its stored answer at no cost.":
        "再次运行问过的查询将返回已保存的结果，不再扣费。",
    "No saved queries yet: save one from the query console.": "尚无已保存的查询：可在查询控制台中保存。",
    "Version {v} · {rows} rows": "第 {v} 版 · {rows} 行",
    "Versions": "版本",
    "Completeness": "完整率",
    "Missing": "缺失",
    "Outside bounds": "超出界限",
    "Keys never seen": "未出现的键值",
    "Values not in keys": "不在键值中的取值",
    "Rows per {column}: {units} units, at most {max} rows, {mean} on average; {over} units above the bound of {bound}.":
        "每个 {column} 的行数：共 {units} 个单位，最多 {max} 行，平均 {mean} 行；{over} 个单位超过上限 {bound}。",
    "Counts only: no value of the data leaves this report. The data office sees it too.":
        "仅含计数：本报告不含任何数据值。数据管理机构也可查看。",
    # --- journeys ---
    "Edit the listing": "编辑数据产品",
    "Edit": "编辑",
    "Cancel": "取消",
    "Save the changes": "保存修改",
    "Submit again": "重新提交审核",
    "Saved. Submit it when it is ready.": "已保存。准备好后请提交审核。",
    "The data office asks for changes": "数据主管部门要求修改",
    "Edit the listing (or the data dictionary), then submit it again.": "请修改数据产品（或数据字典）后重新提交审核。",
    "Fields marked * are required. Each field says what it means; mistakes are shown as you type.":
        "带 * 的为必填项。每个字段下方都有说明；填写有误会立即提示。",
    "What are the privacy budget (ε) and the margin of error (±)?": "什么是隐私预算（ε）和误差范围（±）？",
    "What enterprises see in the catalog, e.g. 2025年各区餐饮消费汇总.":
        "企业在数据目录中看到的名称，例如“2025年各区餐饮消费汇总”。",
    "Words people search for, separated by commas (，or ,).": "用户可能搜索的词，用逗号（，或 ,）分隔。",
    "The field the data belongs to, e.g. 商贸, 交通, 医疗.": "数据所属领域，例如 商贸、交通、医疗。",
    "(not stated)": "（未说明）",
    "How often you upload a new version of the data.": "您多久上传一次新版本的数据。",
    ("General data needs one approval; important data two, a cap of at most 0.5 ε per query and groups of at l"
     "east 10. Core data is never listed."):
        ("一般数据需一人审核通过；重要数据需两人审核通过，单次查询 ε 不超过 0.5，最小分组不少于 10。核心数据一"
         "律不得上架。"),
    "The most privacy budget one query may spend (0 < ε ≤ 10). Smaller means more noise and more protection.":
        "一次查询最多可消耗的隐私预算（0 < ε ≤ 10）。数值越小，加入的噪声越多，保护越强。",
    "What the query console proposes; it must not be above the cap per query.":
        "查询控制台默认填写的 ε，不能高于单次查询上限。",
    "Groups smaller than this (after noise) are not shown, so nobody is singled out. 0 = no minimum.":
        "（加噪后）人数少于该值的分组不予显示，避免识别出个人。0 表示不设下限。",
    "As you write it: 8000, 8,000元, ¥8000 or 8000.00. Public welfare offers are free.":
        "按习惯填写即可：8000、8,000元、¥8000 或 8000.00。公益场景的方案免费。",
    "The total privacy budget a licence may spend over its term.": "一份许可在有效期内可消耗的隐私预算总量。",
    "Account number": "账号",
    "Amount due": "应付金额",
    "Back to bank transfers": "返回银行转账",
    "Bank statement imported": "银行对账单已导入",
    "Before": "修改前",
    "Changed since the last review": "自上次审核以来的修改",
    "Checks of the data against the dictionary": "数据与数据字典的核对",
    "Choose a reason": "请选择原因",
    "Date": "日期",
    "Every credit line matched.": "所有入账记录均已匹配。",
    "Field": "字段",
    "Finance confirms the transfer when it reaches the account; the licence then becomes active.":
        "款项到账后由财务确认，许可随即生效。",
    "For": "事由",
    "Import": "导入",
    "Import a bank statement": "导入银行对账单",
    "Issued {at}": "开具时间：{at}",
    "Less than due is recorded as a part payment; the rest stays due.": "少于应付金额的按部分到账记录，其余仍待付。",
    "Line": "行号",
    "Made from the dictionary alone, never from the data: what licensees will see to write queries.":
        "仅依据数据字典生成、从不取自真实数据：被许可企业编写查询时看到的样例。",
    "Matched and confirmed ({n})": "已匹配并确认（{n} 笔）",
    "No field changed since the last review.": "自上次审核以来没有字段被修改。",
    "No line matched a pending transfer.": "没有记录与待确认的转账匹配。",
    "Not matched ({n})": "未匹配（{n} 笔）",
    "Now": "修改后",
    "Once approved, pay the fee by bank transfer or card.": "审批通过后，通过银行转账或在线支付缴费。",
    "Pay the fee: by bank transfer (the account and the reference are shown here) or by card.":
        "缴费：银行转账（收款账户和付款参考号会显示在此页）或在线支付。",
    "Payer": "付款单位",
    "Payment notice": "缴款通知",
    "Payment notice (printable)": "缴款通知（可打印）",
    "Payment {id}": "付款 {id}",
    "Print": "打印",
    "Read as {encoding}.": "按 {encoding} 编码读取。",
    "Received so far": "已到账",
    "Received so far: {got} of {total}. The rest is still due.": "已到账 {got}（共 {total}），其余仍待付。",
    "Recorded as received in part: the rest of payment {id} stays due.":
        "已按部分到账记录：付款 {id} 的其余金额仍待付。",
    "Reference (put in the remark)": "付款参考号（请填入附言）",
    "Remark": "摘要/附言",
    "Statement file": "对账单文件",
    ("The CSV your bank exports (UTF-8 or GBK). Credit lines quoting a pending transfer's reference are confir"
     "med, in full or in part; the others are listed for you to check."):
        ("网银导出的 CSV 文件（UTF-8 或 GBK 编码均可）。附言中含有待确认转账参考号的入账记录将自动确认（全额或"
         "部分到账），其余记录逐条列出供您核对。"),
    "The data office reviews your purpose (this is important data); you will see its decision here.":
        "数据主管部门将审核您填写的用途（本产品为重要数据），审核结果会显示在此页。",
    ("Then open the query console: each query spends part of the privacy budget and returns results with their"
     " margin of error."):
        "然后打开查询控制台：每次查询消耗一部分隐私预算，结果附带误差范围。",
    ("Transfer the amount due to this account and write the reference in the transfer's remark (附言) exactly;"
     " finance activates the licence when the money arrives, usually within one working day."):
        ("请将应付金额转入以下账户，并在转账附言中准确填写付款参考号；款项到账后财务将确认并开通许可，通常在一"
         "个工作日内。"),
    "What happens next": "接下来会怎样",
    "What you are deciding on": "本次审核的要点",
    "Why": "原因",
    ("Write the reference in the transfer's remark exactly, or the payment cannot be matched. The licence beco"
     "mes active once finance confirms the money arrived."):
        "请在转账附言中准确填写付款参考号，否则无法匹配到账。财务确认到账后许可即生效。",
    "Your application is recorded.": "您的申请已提交。",
    "nothing found": "未发现问题",
    "one person = one row (at most {n})": "一人 = 一行（最多 {n} 行）",
    "one person = one value of {column}, at most {n} rows each": "一人 = {column} 的一个取值，每人最多 {n} 行",
    "{got} of {total} received": "已到账 {got} / {total}",
    "{n} to look at (listed below)": "{n} 项需关注（见下文）",
    "Stripe refused the request": "Stripe 拒绝了请求",
    "The Stripe statement cannot be read": "Stripe 对账文件无法读取",
    "The event was stored but could not be processed yet": "事件已保存，但暂未能处理",
    "The payment provider could not be reached or refused the request": "无法连接支付服务或请求被拒绝",
    "The webhook is not from Stripe, or is stale": "回调不是来自 Stripe 或已过期",
    "This refund cannot be made": "不能进行这笔退款",
    "This remittance cannot be recorded": "不能登记这笔上缴",
    "Privacy budget and margin of error": "隐私预算与误差范围",
    "What is the privacy budget (ε)?": "隐私预算（ε）是什么？",
    ("Every result leaves the sandbox with a little random noise added, so that no answer can reveal whether a"
     "ny one person is in the data. ε (epsilon) measures how much a query may reveal: a smaller ε means more n"
     "oise and stronger protection, a larger ε a more precise answer."):
        ("每个结果离开沙箱前都会加入少量随机噪声，使任何结果都无法看出某一个人是否在数据中。ε（epsilon）衡量一"
         "次查询最多可能透露多少信息：ε 越小，噪声越大、保护越强；ε 越大，结果越精确。"),
    ("Each query spends part of the licence's ε budget. When the budget is used up, no more queries run on tha"
     "t licence; a renewal brings a new budget. A preview shows the cost and the expected precision before any"
     "thing is spent."):
        ("每次查询消耗许可的一部分 ε 预算。预算用完后，该许可不能再查询；续期可获得新的预算。“预览”会在消耗之"
         "前显示本次查询的花费和预期精度。"),
    "ε 0.1: strong protection; good for large groups (thousands of people).":
        "ε 0.1：保护很强，适合人数很多（数千人）的分组。",
    "ε 0.5–1: the usual choice; counts of a few hundred are precise to a few percent.":
        "ε 0.5–1：常用取值，几百人的计数误差约为百分之几。",
    ("Spending ε twice on the same question is like asking it with twice the budget: the protection adds up, w"
     "hich is why the budget is limited."):
        "同一个问题问两次，相当于用两倍预算问一次：隐私损失会累加，所以预算是有限的。",
    "How to read the margin of error (±)": "误差范围（±）怎么读",
    ("A value shown as 1,250 ± 40 means: with 95% confidence, the value without noise lies between 1,210 and 1"
     ",290. The ± comes from the noise the platform added, never from the data itself."):
        ("显示为 1,250 ± 40 的值表示：有 95% 的把握，不加噪声时的真实值在 1,210 到 1,290 之间。± 来自平台加入"
         "的噪声，与数据本身无关。"),
    ("For counts and sums the ± is the same for every row of a column; for averages it depends on the group's "
     "size, so small groups have wider margins. For medians and percentiles the ± is a conservative bound: the "
     "noise moves the rank, which the column's public bounds turn into a distance."):
        ("计数和求和的 ± 在同一列中各行相同；平均值的 ± 取决于分组人数，人数少的分组误差更大。中位数和百分位数的"
         " ± 是保守的上限：噪声使排名位置偏移，再按该列的公开取值范围换算为数值距离。"),
    ("Groups smaller than the listing's minimum group size are not shown at all, so that nobody can be singled"
     " out."):
        "人数少于数据产品最小分组的分组完全不显示，避免识别出个人。",
    ("ε is the privacy budget: each query spends some, and results carry a small random error (±) that protect"
     "s the people in the data."):
        "ε 是隐私预算：每次查询消耗一部分；结果带有少量随机误差（±），用来保护数据中的每个人。",
    "What do ε and ± mean?": "ε 和 ± 是什么意思？",
    "Smaller ε: more noise, less budget spent. Larger ε: a more precise answer.":
        "ε 越小：噪声越大、消耗的预算越少；ε 越大：结果越精确。",
    "(no ±)": "（无 ±）",
    ("A value shown as 100 ± 5 is, with 95% confidence, between 95 and 105; the ± comes from the protective no"
     "ise, not from the data."):
        ("显示为 100 ± 5 的值，有 95% 的把握真实值在 95 到 105 之间；± 来自保护隐私的噪声，而非数据本身。"),
    "How to read the margin of error": "误差范围怎么读",
    ("Try a shorter word (公交 rather than 公交刷卡数据), a category such as a district or a trade, or fewer f"
     "ilters."):
        "试试更短的词（如“公交”而不是“公交刷卡数据”）、一个分类值（如区名或行业），或减少筛选条件。",
    "Show every listing": "显示全部数据产品",
    "Years are calendar years in China Standard Time (UTC+8).": "年度按北京时间（UTC+8）的自然年计算。",
    "A licence is counted as granted in the year it became active.": "许可按生效的年份计为授予。",
    ("Revenue is counted in the year the payment succeeded, net of refunds on it; it belongs to the treasury ("
     "非税收入)."):
        "收入按付款到账的年份计算，扣除相应退款；收入属于国库（非税收入）。",
    "Amounts are integer minor units (fen) of their currency.": "金额以元为单位显示；接口中的 *_minor 字段以分为单位。",
    "This code is registered already: sign in, or ask your organization's administrator to invite you.":
        "该代码已注册：请直接登录，或请本单位管理员邀请您。",
    "Everything else you typed is kept; for your safety, type the password again.":
        "您填写的其他内容都已保留；为安全起见，请重新输入密码。",
    "Who (email or role)": "操作人（邮箱或角色）",
    "What": "操作",
    "Any action": "全部操作",
    "Object": "对象",
    "Any object": "全部对象",
    "Object number": "对象编号",
    "From (date)": "起始日期",
    "To (date)": "截止日期",
    "{n} events match.": "共 {n} 条记录符合条件。",
    "Who": "操作人",
    "Details": "详情",
    "System": "系统",
    "Newer": "较新",
    "Older": "较早",
    # --- ops ---
    "API keys": "API 密钥",
    "Scripts send a key as a bearer token. A read-only key can only look; a query key can also run DP queries.":
        "脚本把密钥作为 Bearer 令牌发送。只读密钥只能查看；查询密钥还可以运行差分隐私查询。",
    "Your new key. Copy it now: it is shown only this once.": "这是您的新密钥。请立即复制：它只显示这一次。",
    "The key is revoked: its next request is refused.": "密钥已撤销：之后的请求将被拒绝。",
    "Scope": "权限范围",
    "Read only": "只读",
    "Read and query": "查看和查询",
    "Full": "完全权限",
    "Expires after (days)": "有效期（天）",
    "Create key": "创建密钥",
    "Last used": "最近使用",
    "Never": "永不过期",
    "Never used": "从未使用",
    "Revoked": "已撤销",
    "Expired": "已过期",
    "Active": "有效",
    "Revoke": "撤销",
    "No API keys yet.": "还没有 API 密钥。",
    "My payments": "我的付款",
    "Paid": "到账时间",
    "Payment receipt": "收据",
    "Receipt (PDF)": "收据（PDF）",
    "No payments yet.": "还没有付款。",
    "Notifications": "通知",
    "{n} unread": "{n} 条未读",
    "Mark all read": "全部标为已读",
    "No notifications yet.": "还没有通知。",
    "What you receive": "接收哪些通知",
    "Saved.": "已保存。",
    "Notice": "通知",
    "Inbox": "站内信",
    "E-mail": "电子邮件",
    "Save": "保存",
    "Users": "用户",
    "The account is created.": "账号已创建。",
    "Last sign-in": "最近登录",
    "Never signed in": "从未登录",
    "Disabled": "已停用",
    "Disable": "停用",
    "Enable": "启用",
    "Create a staff account": "创建工作人员账号",
    "Department (providers)": "所属部门（供数单位）",
    "Create account": "创建账号",
    "Password and sessions": "密码与登录会话",
    "Your password is changed; your other sessions have ended.": "密码已修改；您的其他登录会话已结束。",
    "Current password": "当前密码",
    "New password": "新密码",
    "Change password": "修改密码",
    "Your sessions": "您的登录会话",
    "Signed in": "登录时间",
    "This browser": "当前浏览器",
    "End session": "结束会话",
    "Organization": "机构",
    "Team": "团队",
    "Invitation sent to {email}.": "已向 {email} 发送邀请。",
    "No mail server is configured: give them this link yourself.": "未配置邮件服务器：请您自行把此链接交给对方。",
    "Organization admin": "机构管理员",
    "Analyst (queries)": "分析人员（可查询）",
    "Viewer (reads results)": "查看人员（只读结果）",
    "Invited, until {date}": "已邀请，有效期至 {date}",
    "Invite a colleague": "邀请同事",
    "Send invitation": "发送邀请",
    "Join your team": "加入团队",
    "You are invited as {email}. Choose a password to finish.": "您以 {email} 受邀加入。请设置密码完成注册。",
    "Join": "加入",
    "Reset your password": "重设密码",
    "Set the new password": "设置新密码",
    "If an account has this email, a link to set a new password is on its way. It works once, for an hour.":
        "如果该邮箱有对应账号，设置新密码的链接已经发出。链接一小时内有效，仅可使用一次。",
    "Send me a link": "发送链接",
    "Forgot your password?": "忘记密码？",
    "Your password is set: sign in with it.": "密码已设置，请用新密码登录。",
    "Send a password link": "发送重设密码链接",
    "A link to set a new password is on its way.": "设置新密码的链接已发出。",
    # --- nodes ---
    "Query {id}": "查询 {id}",
    "Cancel this query": "取消此查询",
    "A query cancelled before the sandbox starts it costs nothing. Once it runs, its ε is spent.":
        "在沙箱开始计算前取消的查询不收取任何预算；一旦开始运行，其 ε 即计入。",
    "Waiting for a sandbox…": "正在等待沙箱…",
    "Running in the sandbox…": "正在沙箱中运行…",
    "(attempt {n}: the first sandbox stopped)": "（第 {n} 次尝试：先前的沙箱已停止）",
    "Ended without a result; its ε was given back.": "未产生结果即结束，其 ε 已退还。",
    "Ended without a result.": "未产生结果即结束。",
}

# --- p-unit --- (finding codes of the privacy-unit checks)
LABELS["finding"] |= {
    "privacy-unit-required": ("标识字段取值重复，须以个人为隐私单位",
                              "An identifier repeats: a person must be the unit"),
    "row-bound-too-small": ("数据行数超过公开的行数上限", "The data has more rows than the public row bound"),
    "bounds-reveal-extremes": ("取值范围等于数据的最小值/最大值，会泄露它们",
                               "Bounds equal the observed min/max, which reveals them"),
    "rows-truncated": ("部分个人的记录超过每人上限，将被截断", "Some persons have more rows than k: truncated"),
}
# --- p-sandbox ---
ZH["A stored release of yours already answers this query: running it costs nothing and returns the same values."] = (
    "您已保存的发布结果可以回答此查询：运行它不会扣除预算，并返回相同的数值。")

LABELS.update({
    "complaint_kind": {"complaint": ("投诉", "Complaint"), "objection": ("异议", "Objection")},
    "complaint_status": {"open": ("待答复", "Waiting for an answer"), "handled": ("已答复", "Answered")},
    "complaint_decision": {"upheld": ("成立", "Upheld"), "dismissed": ("不成立", "Dismissed")},
    "security_decision": {"pass": ("通过", "Passed"), "fail": ("不通过", "Failed")},
    "risk_level": {"low": ("低", "Low"), "medium": ("中", "Medium"), "high": ("高", "High")},
})
LABELS["status"]["notice"] = ("公示中", "Under public notice")

# --- journeys (labels and form field names) ---
LABELS["cycle"] = {
    "realtime": ("实时", "Real time"), "daily": ("每日", "Daily"), "weekly": ("每周", "Weekly"),
    "monthly": ("每月", "Monthly"), "quarterly": ("每季度", "Quarterly"), "yearly": ("每年", "Yearly"),
    "once": ("一次性", "Once"),
}
LABELS["statement"] = {
    "paid": ("已全额到账，许可已生效", "Paid in full; licence active"),
    "partial": ("部分到账，其余仍待付", "Received in part; the rest stays due"),
    "no-reference": ("附言中没有付款参考号", "No payment reference in the remark"),
    "unknown-reference": ("参考号不存在", "Unknown reference"),
    "not-pending": ("该付款已确认过或不是待确认的转账", "Already confirmed, or not a pending transfer"),
    "amount-too-high": ("金额多于尚欠金额，请人工处理", "More than is due: handle by hand"),
    "already-imported": ("此前已导入过这一行", "This line was imported before"),
}
LABELS["query_status"] = {
    "queued": ("排队中", "Queued"), "running": ("运行中", "Running"), "succeeded": ("已完成", "Done"),
    "refunded": ("已退回预算", "Budget given back"), "failed": ("失败", "Failed"),
}
LABELS["audit_action"] = {
    "api_key.created": ("创建 API 密钥", "API key created"), "user.created": ("创建用户", "User created"),
    "dataset.uploaded": ("上传数据集", "Dataset uploaded"),
    "dataset.dictionary_set": ("保存数据字典", "Dictionary saved"),
    "dataset.keys_confirmed": ("确认公开取值", "Public keys confirmed"),
    "listing.created": ("创建数据产品草稿", "Listing drafted"), "listing.updated": ("编辑数据产品", "Listing edited"),
    "listing.offer_added": ("新增产品方案", "Offer added"), "license.applied": ("申请许可", "Licence applied for"),
    "license.activated": ("许可生效", "Licence activated"), "payment.started": ("发起付款", "Payment started"),
    "payment.confirmed": ("确认到账", "Payment confirmed"), "payment.part_received": ("部分到账", "Part received"),
    "payment.refunded": ("退款", "Refund"), "payment.statement_imported": ("导入银行对账单", "Bank statement imported"),
    "reconciliation.run": ("对账", "Reconciliation"), "treasury.remitted": ("上缴国库", "Remitted to the treasury"),
    "query.charged": ("查询扣除预算", "Query charged"), "query.released": ("发布查询结果", "Query released"),
    "query.refunded": ("查询退回预算", "Query budget given back"), "query.refused": ("拒绝查询", "Query refused"),
    "organization.registered": ("企业注册", "Enterprise registered"),
    "registration.initial": ("产品登记", "Registered"),
    "registration.change": ("登记变更", "Registration changed"), "registration.correction": ("登记更正", "Corrected"),
    "registration.cancellation": ("注销登记", "Registration cancelled"),
}
FIELD_ZH: dict[str, str] = {
    "title": "标题", "description": "描述", "keywords": "关键词", "sector": "行业领域", "update_cycle": "更新周期",
    "proposed_grade": "建议分级", "offers": "产品方案", "name": "名称", "scenario": "场景", "price_minor": "价格",
    "term_days": "期限（天）", "epsilon_budget": "ε 预算", "query_quota": "查询次数", "dp_policy": "差分隐私策略",
    "max_epsilon_per_query": "单次查询 ε 上限", "default_epsilon": "默认 ε", "min_group_size": "最小分组",
    "Offer 1 price": "方案 1 价格", "Offer 2 price": "方案 2 价格", "Amount": "金额", "Ceiling price": "最高限价",
    "purpose": "用途", "amount_minor": "金额", "bank_reference": "付款参考号", "reason": "原因",
    "credit_code": "统一社会信用代码", "admin_email": "管理员邮箱", "admin_password": "密码",
}

# --- auth (branch auth: two-factor sign-in and single sign-on) ---
ZH.update({
    "Two-factor sign-in": "双因素登录",
    "Enter the 6-digit code your authenticator app shows now, or one of your recovery codes.":
        "请输入身份验证器应用当前显示的 6 位验证码，或一个恢复码。",
    "Code": "验证码",
    "Your role must sign in with a second factor. Set up an authenticator app to continue.":
        "您的角色必须使用双因素登录。请先绑定身份验证器应用，然后继续。",
    "Two-factor sign-in is off.": "双因素登录未启用。",
    "Two-factor sign-in is on.": "双因素登录已启用。",
    "Recovery codes": "恢复码",
    "Keep these somewhere safe: each signs you in once if you lose your authenticator. They are shown only now.":
        "请妥善保存：身份验证器丢失时，每个恢复码可登录一次。恢复码仅显示这一次。",
    "Continue": "继续",
    "Scan this code with an authenticator app (for example FreeOTP, Google Authenticator or Microsoft "
    "Authenticator), or type in the key below.":
        "请用身份验证器应用（如 FreeOTP、Google Authenticator 或 Microsoft Authenticator）"
        "扫描此二维码，或手动输入下方密钥。",
    "Key": "密钥",
    "The 6-digit code the app shows": "应用显示的 6 位验证码",
    "Turn on two-factor sign-in": "启用双因素登录",
    "Recovery codes left: {n}": "剩余恢复码：{n} 个",
    "Current code": "当前验证码",
    "New recovery codes": "生成新的恢复码",
    "Your role must sign in with a second factor: it cannot be turned off. If you lose your authenticator, use a "
    "recovery code or ask an admin to reset it.":
        "您的角色必须使用双因素登录，不能停用。如身份验证器丢失，请使用恢复码或请管理员重置。",
    "Turn off two-factor sign-in": "停用双因素登录",
    "With it on, signing in needs your password and a code from an app on your phone.":
        "启用后，登录需要密码和手机应用生成的验证码。",
    "Set up an authenticator app": "绑定身份验证器应用",
    "Set up or change two-factor sign-in": "设置或更改双因素登录",
    "Two-factor": "双因素",
    "On": "已启用",
    "Off": "未启用",
    "Reset two-factor": "重置双因素",
    "Their two-factor sign-in is reset: they set it up again at their next sign-in.":
        "已重置该用户的双因素登录：其下次登录时重新绑定。",
    "Wrong code": "验证码错误",
    "A second factor is needed": "需要第二重验证",
    "Two-factor sign-in must be set up": "须先设置双因素登录",
    "Sign in with {name}": "使用{name}登录",
    "Single sign-on refused": "统一身份认证登录被拒绝",
    "Single sign-on failed": "统一身份认证登录失败",
})
LABELS["audit_action"].update({
    "user.two_factor_enrolment_started": ("开始绑定双因素", "Two-factor enrolment started"),
    "user.two_factor_enabled": ("启用双因素登录", "Two-factor sign-in turned on"),
    "user.two_factor_disabled": ("停用双因素登录", "Two-factor sign-in turned off"),
    "user.two_factor_recovery_code_used": ("使用恢复码", "Recovery code used"),
    "user.two_factor_recovery_codes_renewed": ("更新恢复码", "Recovery codes renewed"),
    "admin.two_factor_reset": ("管理员重置双因素", "Two-factor reset by an admin"),
    "auth.two_factor_passed": ("双因素验证通过", "Second factor passed"),
    "auth.sso_signed_in": ("统一身份认证登录", "Signed in by single sign-on"),
    "auth.sso_linked": ("关联统一身份认证账号", "Single sign-on identity linked"),
    "auth.sso_account_created": ("通过统一身份认证开通账号", "Account created by single sign-on"),
})

DIGITS_CAPITAL = "零壹贰叁肆伍陆柒捌玖"


def rmb_capital(minor: int) -> str:
    """An amount in fen written the way payment documents require (大写): 12500000 → 壹拾贰万伍仟元整."""
    yuan, fen = divmod(max(minor, 0), 100)
    text = _capital_integer(yuan) + "元" if yuan else ""
    jiao, cent = divmod(fen, 10)
    if not fen:
        return (text or "零元") + "整"
    if jiao:
        text += DIGITS_CAPITAL[jiao] + "角"
    elif yuan:
        text += "零"
    return text + (DIGITS_CAPITAL[cent] + "分" if cent else "")


def _capital_integer(n: int) -> str:
    groups, units = [], ["", "万", "亿", "万亿"]
    while n:
        n, group = divmod(n, 10000)
        groups.append(group)
    text, zero_pending = "", False
    for index in range(len(groups) - 1, -1, -1):
        group = groups[index]
        if group == 0:
            zero_pending = bool(text)
            continue
        if text and (zero_pending or group < 1000):
            text += "零"
        text += _capital_group(group) + units[index]
        zero_pending = False
    return text


def _capital_group(n: int) -> str:
    text, zero = "", False
    for value, unit in ((1000, "仟"), (100, "佰"), (10, "拾"), (1, "")):
        digit, n = divmod(n, value)
        if digit:
            text += ("零" if zero and text else "") + DIGITS_CAPITAL[digit] + unit
            zero = False
        else:
            zero = bool(text)
    return text

# --- openstats branch: open statistics (数据社会化), registration certificates, the annual report ---
ZH.update({
    "Open statistics": "公开统计",
    ("Differentially private tables of public data that the data office publishes free to everyo"
     "ne: no account and no licence needed. Each value carries its ± at 95% confidence, and each"
     " table a receipt signed by the platform."):
        ("数据管理机构向社会免费公开的差分隐私统计表：无需账号，无需许"
         "可。每个数值附 95% 置信水平下的误差（±），每张表附平台"
         "签名的回执。"),
    "{n} tables": "{n} 张统计表",
    "No open statistics yet.": "暂无公开统计。",
    ("Published free to everyone by the data office. The values are differentially private: nois"
     "e protects {unit}; ε {eps} was charged for the whole set to the dataset's total privacy bu"
     "dget, shared with every licensee."):
        ("由数据管理机构向社会免费公开。数值经差分隐私处理：噪声保护{"
         "unit}；整组统计表共计 ε {eps}，计入该数据集所有"
         "被许可方共用的隐私预算总额。"),
    "one row": "一行数据",
    "each {column}, up to {n} rows": "每个 {column}（最多 {n} 行）",
    "Signed receipt": "签名回执",
    "Public key": "验签公钥",
    "ε of the whole set": "整组 ε",
    "Left of the dataset's global budget": "数据集总预算剩余",
    "Left after publishing": "公开后剩余",
    "The global budget covers these tables.": "数据集总预算足以支付这些统计表。",
    "The global budget cannot cover these tables: publish fewer or spend less ε on each.":
        "数据集总预算不足以支付这些统计表：请减少统计表数量或降低每张表的 ε。",
    "Back to the listing": "返回数据产品",
    "As the public sees them": "公众所见",
    "Open statistic {id} published": "公开统计 {id} 已发布",
    "View": "查看",
    ("Tables published here are free to everyone, without a licence. Their ε is charged once, fo"
     "r the whole set, to the dataset's global budget that every licensee shares, so they leave "
     "less for licensees: publish what many people need."):
        ("在此发布的统计表向所有人免费开放，无需许可。整组统计表的 ε"
         " 一次性计入所有被许可方共用的数据集总预算，会减少被许可方可"
         "用的预算：请发布公众普遍需要的统计。"),
    "Global ε cap": "ε 总上限",
    "Spent": "已使用",
    "Left": "剩余",
    "One aggregate per table, as in the query console: FROM {table}. Leave a row's SQL empty to skip it.":
        "每张表一条聚合查询，写法与查询控制台相同：FROM {table}。SQL 留空的行将被忽略。",
    "Table {n}": "统计表 {n}",
    "Preview cost": "预估成本",
    "Publish for everyone": "向社会公开",
    "Published tables": "已发布的统计",
    "Open statistics: publish DP tables for everyone": "公开统计：向社会发布差分隐私统计表",
    "free, no licence needed": "免费，无需许可",
})
LABELS["open_status"] = {
    "running": ("计算中", "Running"), "published": ("已发布", "Published"),
    "partial": ("部分发布", "Partly published"), "failed": ("未能发布", "Failed"),
}
ZH.update({  # openstats branch: registration pages and certificate
    "Registrations": "登记公示",
    ("Every data product on the platform is registered: first registration, changes, corrections"
     " and cancellation, each public. A new record is under public notice first, when anyone may"
     " object to it."):
        "平台上的每个数据产品都已登记：首次登记、变更登记、更正登记和注销登记均向社会公开。新的登记先进入公示期，公示期内任何人均可提出异议。",
    "Registration code": "登记编码",
    "Registered": "登记日期",
    "No registrations yet.": "暂无登记记录。",
    "The product": "数据产品",
    "Public notice ends": "公示截止",
    "Open objections": "未处理的异议",
    "Under public notice: anyone may object to this registration until the notice ends.":
        "公示中：公示期满前任何人均可对该登记提出异议。",
    "File an objection": "提出异议",
    "The registration certificate is issued once the public notice has ended.": "公示期满后出具登记证书。",
    "Registration certificate (PDF)": "登记证书（PDF）",
    "for the provider and the data office": "供数单位和数据管理机构可下载",
    "Registration events": "登记记录",
})
LABELS["registration_status"] = {"notice": ("公示中", "Under public notice"), "active": ("已登记", "Registered"),
                                 "cancelled": ("已注销", "Cancelled")}
LABELS["registration_kind"] = {"initial": ("首次登记", "First registration"), "change": ("变更登记", "Change"),
                               "correction": ("更正登记", "Correction"), "cancellation": ("注销登记", "Cancellation")}
ZH.update({  # openstats branch: the annual report and its deadline
    "due by {date}, {n} days left": "须于 {date} 前公开，还剩 {n} 天",
    "was due by {date}": "应于 {date} 前公开，已逾期",
    "The report is due by the end of March of the following year.": "本报告应于次年 3 月底前公开。",
    ("Open statistics are differentially private tables published free to everyone; their ε is charged to each "
     "dataset's total privacy budget."):
        "公开统计是向社会免费公开的差分隐私统计表，其 ε 计入相应数据集的隐私预算总额。",
    "Operator": "运营机构",
    "Revenue account": "收入账户",
    "Due by": "公开期限",
    "Approved revenue ceiling": "最高准许收入",
    "Deducted from last year's excess": "上期超出扣减",
    "Allowed this year": "本期准许收入",
    "Revenue received": "实际收入",
    "Excess, deducted next year": "超出部分（下期扣减）",
    "No revenue ceiling was approved for this year.": "本年度未核定最高准许收入。",
    "Download PDF": "下载 PDF",
    "Licences by scenario": "按场景授予的许可",
    "Tables": "统计表数",
})
ZH["ε {eps} spent on open statistics"] = "公开统计已用 ε {eps}"  # openstats branch

# --- branch `rules` (session 3): authorization agreements (授权运营协议) and per-query pricing ---
ZH.update({
    "Agreements": "授权协议",
    "Authorization agreement": "授权运营协议",
    "Authorization agreements": "授权运营协议",
    "A listing is submitted, published and resumed only within an active agreement that covers its department, "
    "dataset or sector. When an agreement ends or is revoked, its listings are suspended and their licensees "
    "notified.": "数据产品只有在有效的授权运营协议覆盖其供数单位、数据集或行业领域时，才能提交审核、发布或恢复。"
                 "协议届满或被撤销时，其下的数据产品将被暂停，并通知被许可企业。",
    "Agreement": "协议",
    "Operator": "运营机构",
    "Listings": "数据产品",
    "No agreement yet: nothing can be submitted for review.": "尚无授权运营协议：任何数据产品都不能提交审核。",
    "Record an agreement": "登记授权运营协议",
    "Authorizing body": "授权主体",
    "Operator organization": "运营机构",
    "Scope: at least one of": "授权范围（至少填写一项）",
    "Provider departments (one per line)": "供数单位（每行一个）",
    "Datasets (table names, one per line)": "数据集（表名，每行一个）",
    "Sectors (one per line)": "行业领域（每行一个）",
    "Starts on": "开始日期",
    "Ends on (inclusive)": "结束日期（含当日）",
    "Conditions": "授权条件",
    "Signed agreement (PDF, up to 20 MB)": "已签署的协议文本（PDF，不超过 20 MB）",
    "Record the agreement": "登记协议",
    "The agreement is recorded": "授权运营协议已登记",
    "The agreement is revoked; its listings not covered by another agreement are suspended":
        "授权运营协议已撤销；未被其他协议覆盖的数据产品已暂停",
    "Provider departments": "供数单位",
    "Datasets": "数据集",
    "Sectors": "行业领域",
    "Document": "协议文本",
    "Listings under this agreement": "依据本协议提交的数据产品",
    "Revoke the agreement": "撤销协议",
    "Reason (public)": "撤销原因（公开）",
    "Revoke and suspend its listings": "撤销并暂停其下的数据产品",
    "Per query": "按次计费",
    "{price} per released query": "每次发布结果 {price}",
    "Per-query charges": "按次计费费用",
    "Queries charged": "已计费查询",
    "Charged": "已计费",
    "Price per query (yuan, industry only)": "按次计费单价（元，仅产业类）",
})
LABELS["agreement_status"] = {
    "active": ("有效", "Active"), "not_started": ("未生效", "Not started"), "expired": ("已届满", "Expired"),
    "revoked": ("已撤销", "Revoked"),
}
FIELD_ZH.update({
    "authorizing_body": "授权主体", "operator": "运营机构", "departments": "供数单位", "datasets": "数据集",
    "sectors": "行业领域", "starts_on": "开始日期", "ends_on": "结束日期", "conditions": "授权条件",
    "price_per_query_minor": "按次计费单价", "Offer 1 price per query": "方案 1 按次计费单价",
    "Offer 2 price per query": "方案 2 按次计费单价",
})
ZH.update({  # the annual report lists the authorization agreements in force in its year
    "No authorization agreement was in force this year.": "本年度无有效的授权运营协议。",
})

ZH.update({  # templates branch: query templates the data office approves (查询模板)
    "Query templates": "查询模板",
    "Templates": "模板",
    "Template": "模板",
    "Templates to review": "待审核的查询模板",
    "Back to the listing": "返回数据产品",
    "Template proposed; the data office reviews it.": "模板已提交，等待数据主管部门审核。",
    "A template is a query whose shape the data office approves: enterprises fill in its parameters. Important data "
    "needs two approvals.": "查询模板是由数据主管部门审定形态的查询：企业只需填写参数。"
                            "重要数据的模板须经两人审核通过。",
    "The data office requires templates for this listing: free SQL is refused.":
        "数据主管部门要求该数据产品只能通过模板查询：不接受自由编写的 SQL。",
    "No templates yet.": "尚无模板。",
    "Propose a template": "提交查询模板",
    "Name (Chinese)": "名称（中文）",
    "Name (English)": "名称（英文）",
    "Description (Chinese)": "说明（中文）",
    "Description (English)": "说明（英文）",
    "SQL with :parameters": "带 :参数 的 SQL",
    "One aggregate over the table {table}; write :name where a value goes, and IN :name for a list of keys.":
        "对表 {table} 的一条聚合查询；在需要取值处写 :名称，多个取值写 IN :名称。",
    "Parameters (JSON)": "参数（JSON）",
    "type: key (one public key of a dimension), keys (a list of them, max_items), number (within a measure's "
    "bounds), integer (min and max).": "type：key（维度的一个公开取值）、keys（多个公开取值，max_items 为上限）、"
                                       "number（度量取值范围内的数）、integer（min 与 max 之间的整数）。",
    "Example values (JSON)": "示例参数（JSON）",
    "The SQL is checked by the sandbox filled with these values.": "沙箱会用这些示例参数检查 SQL 能否运行。",
    "Propose template": "提交模板",
    "Parameter": "参数",
    "Type": "类型",
    "Constraint": "约束",
    "Example": "示例",
    "at most {n}": "最多 {n} 项",
    "Decision recorded.": "审核意见已记录。",
    "Templates only": "仅限模板查询",
    "Enterprises query this listing only through approved templates (free SQL is refused)":
        "企业只能通过已批准的模板查询该数据产品（不接受自由编写的 SQL）",
    "Record decision": "提交审核意见",
    "Approved query templates": "已批准的查询模板",
    "Run template": "运行模板",
    "This listing is queried through approved templates: the data office has turned off free SQL for it.":
        "重要数据须通过已批准的查询模板查询：数据主管部门已关闭该数据产品的自由 SQL 查询。",
})
LABELS["template_status"] = {
    "submitted": ("待审核", "Submitted"), "approved": ("已批准", "Approved"), "rejected": ("已驳回", "Rejected"),
    "superseded": ("已被新版本取代", "Superseded"),
}
LABELS["template_parameter"] = {
    "key": ("单个取值", "One key"), "keys": ("多个取值", "Keys"), "number": ("数值", "Number"),
    "integer": ("整数", "Integer"),
}
