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
    "scenario": {"public_welfare": ("公共治理/公益", "Public welfare"), "industry": ("产业发展", "Industry")},
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
