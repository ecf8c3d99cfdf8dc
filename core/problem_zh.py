"""A Chinese sentence for every problem type, used when the service gave no more specific one (`zh=`).

The API then always carries `detail_zh`, and a zh-CN page never shows an English sentence for an error.
A specific sentence (with the numbers and names of the case) is better; this is the floor."""

from __future__ import annotations

BY_TYPE: dict[str, str] = {
    "already-booked": "该笔款项已入账，不能重复记账",
    "already-registered": "该统一社会信用代码已注册，请直接登录，或联系本单位的管理员邀请您",
    "authorization-required": "没有有效的授权运营协议覆盖该数据产品，不能提交审核或发布",
    "budget-exhausted": "隐私预算已用完，不能再查询；可以续期或购买新的许可",
    "conflict": "当前状态不允许此操作，请刷新页面后再试",
    "core-grade-not-publishable": "核心数据一律不得发布",
    "csrf-failed": "表单已过期，请刷新页面后重新提交",
    "epsilon-not-allowed": "所填 ε 不在本数据产品允许的范围内，请按页面提示调整",
    "forbidden": "您的账号无权进行此操作",
    "invalid-credit-code": "统一社会信用代码无效，请核对 18 位代码",
    "invalid-dataset": "文件无法作为数据集读取，请上传 CSV 或 Parquet 文件",
    "invalid-dictionary": "数据字典与数据集不一致，请按提示修改",
    "invalid-input": "输入有误，请检查后重新提交",
    "invalid-statement": "对账单无法读取，请上传导出的原始 CSV 文件",
    "invalid-webhook": "回调请求的签名无效或已过期",
    "keys-not-confirmed": "从数据中取得的公开取值需要供数单位确认属于公开信息",
    "license-not-active": "许可未生效（待审批、待付款、已暂停或已到期），不能查询",
    "license-state-conflict": "许可当前的状态不允许此操作",
    "listing-state-conflict": "数据产品当前的状态不允许此操作",
    "listing-unavailable": "该数据产品已暂停或已下架，暂不能查询",
    "method-not-allowed": "不支持此请求方式",
    "not-authenticated": "请先登录",
    "not-found": "找不到该内容，可能已被删除或您无权查看",
    "offer-above-ceiling": "报价高于数据主管部门核定的最高限价",
    "ordering-paused": "该数据产品暂停受理新的许可申请，已有许可不受影响",
    "payment-conflict": "这笔付款当前不能这样处理",
    "payment-provider-refused": "支付服务拒绝了此请求，请稍后再试或改用银行转账",
    "payment-provider-unavailable": "暂时无法连接支付服务，请稍后再试或改用银行转账",
    "price-above-ceiling": "报价高于数据产品的最高限价",
    "query-failed": "查询在沙箱中执行失败，未扣除任何预算",
    "query-failed-charged": "查询在开始读取数据之后失败，其 ε 已扣除，未发布任何结果",
    "query-in-progress": "同一查询正在执行，请稍候查看结果",
    "query-not-allowed": "不允许此查询，请按提示修改 SQL",
    "query-running": "沙箱已开始计算该查询，无法撤回",
    "query-still-running": "查询仍在运行，请稍后在该查询页面查看结果",
    "quota-exhausted": "查询次数已用完；可以续期或购买新的许可",
    "refund-not-allowed": "不能进行这笔退款",
    "remittance-conflict": "不能登记这笔上缴",
    "sandbox-busy": "沙箱繁忙，未扣除任何预算，请稍后重试",
    "self-review": "不能审核自己提交的内容，须由其他审核人审核",
    "stripe-not-configured": "在线支付未开通，请使用银行转账",
    "template-invalid": "查询模板无效，请按提示修改",
    "template-outdated": "查询模板已不符合数据产品当前的数据字典，须提交新版本并经审核",
    "template-parameter-invalid": "模板参数不符合要求，请按提示修改",
    "template-required": "重要数据须通过已批准的查询模板查询",
    "template-state": "查询模板当前的状态不允许此操作",
    "too-many-attempts": "尝试次数过多，请稍后再试",
    "unavailable": "服务暂时不可用，请稍后再试",
    "unbalanced-entry": "会计分录借贷不平衡，已拒绝",
    "unknown-reason-code": "所选原因不适用于此操作，请从列表中选择",
    "upload-too-large": "文件太大，请拆分或压缩后再上传",
    "webhook-not-processed": "回调已保存，稍后会再处理",
    "internal-error": "服务器出错了，您提交的内容没有丢失。请重试，或联系平台运营方",
    "http-error": "请求未能完成，请稍后再试",
}
FALLBACK = "请求未能完成，请检查后重试"


def sentence(type_: str) -> str:
    """The Chinese floor for a problem type."""
    return BY_TYPE.get(type_, FALLBACK)
