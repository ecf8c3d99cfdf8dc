"""Reason codes: every change of a listing's state names one, from this list (docs/data-office.md).

Free text goes in the comment; the code is what reports, the registration record and the disclosure
can count on. A code is valid only for the actions it is listed under: an unknown code, or one that
does not fit the action, is refused with the list of codes that do.
"""

from __future__ import annotations

from dataclasses import dataclass

from market.errors import UnknownReasonCode


@dataclass(frozen=True)
class Reason:
    code: str
    actions: frozenset[str]
    en: str
    zh: str


def _r(code: str, actions: str, en: str, zh: str) -> Reason:
    return Reason(code, frozenset(actions.split()), en, zh)


REASONS: tuple[Reason, ...] = (
    _r("initial-submission", "submit", "First submission for review", "首次提交审核"),
    _r("resubmission", "submit", "Resubmitted after requested changes", "按意见修改后重新提交"),
    _r("new-version", "submit move_version", "A new dataset version or dictionary", "数据集新版本或数据字典变更"),
    _r("meets-standard", "approve approve_template", "Meets the publication standard", "符合发布要求"),
    _r("meets-standard-with-conditions", "approve", "Meets the standard under the stated conditions",
       "附条件符合发布要求"),
    _r("not-public-data", "reject", "Not public data within the authorization", "不属于授权范围内的公共数据"),
    _r("personal-information", "reject request_changes reject_template", "Exposes personal information",
       "涉及个人信息"),
    _r("legal-basis-missing", "reject suspend", "No legal basis for opening this data", "缺乏开放的法律依据"),
    _r("duplicate-listing", "reject retire", "Duplicates another listing", "与其他产品重复"),
    _r("core-data", "reject raise_grade", "Core data (核心数据), which is never published", "属于核心数据，不予发布"),
    _r("dictionary-incomplete", "request_changes", "The data dictionary is incomplete or unclear",
       "数据字典不完整或不清楚"),
    _r("identifier-exposed", "request_changes suspend", "A column looks like a personal identifier",
       "存在疑似个人标识字段"),
    _r("bounds-implausible", "request_changes", "Measure bounds do not fit the data's meaning",
       "度量取值范围不合理"),
    _r("keys-not-public", "request_changes", "Category keys are not public knowledge", "分类取值不属于公开信息"),
    _r("description-unclear", "request_changes correct", "Title or description is unclear or wrong",
       "标题或描述不清楚或有误"),
    _r("price-above-ceiling", "request_changes", "An offer is priced above the ceiling", "报价高于最高限价"),
    _r("grade-unjustified", "request_changes", "The proposed grade is not justified", "拟定分级依据不足"),
    _r("quality-insufficient", "reject request_changes suspend", "Data quality is insufficient", "数据质量不足"),
    _r("security-incident", "suspend raise_grade", "A security incident is being handled", "发生安全事件"),
    _r("complaint", "suspend pause_ordering", "A complaint is being investigated", "收到投诉正在核查"),
    _r("legal-review", "suspend pause_ordering", "Under legal or compliance review", "正在进行合规审查"),
    _r("provider-request", "pause_ordering retire suspend", "At the provider's request", "应供数单位要求"),
    _r("capacity-limit", "pause_ordering", "Too many licences to serve well for now", "当前服务容量不足"),
    _r("pending-update", "pause_ordering", "A new version is on its way", "即将更新版本"),
    _r("issue-resolved", "resume resume_ordering", "The issue was resolved", "问题已解决"),
    _r("update-complete", "resume_ordering", "The update is complete", "更新已完成"),
    _r("superseded", "retire", "Replaced by another product", "已被其他产品替代"),
    _r("authorization-ended", "retire suspend", "The operating authorization ended", "授权运营期限届满"),
    _r("aggregation-risk", "raise_grade", "Combined with other data it became more sensitive", "汇聚后敏感程度提高"),
    _r("regulation-change", "raise_grade lower_grade", "A catalogue or regulation changed", "分类分级目录或法规调整"),
    _r("reassessment", "raise_grade lower_grade", "A new risk assessment", "重新开展风险评估"),
    _r("registration-error", "correct", "The registered information was wrong", "登记信息有误"),
    _r("offer-added", "add_offer", "A new offer within the ceiling and permitted scenarios",
       "在限价和许可场景内新增报价"),
    _r("eligible-public-interest", "approve_eligibility", "Serves public governance or public welfare as stated",
       "用途属于公共治理或公益事业，符合免费条件"),
    _r("purpose-not-public-interest", "refuse_eligibility", "The purpose is not public governance or welfare",
       "用途不属于公共治理或公益事业"),
    _r("evidence-insufficient", "refuse_eligibility", "The evidence does not show the stated use",
       "证明材料不足以证明所述用途"),
    _r("commercial-use", "refuse_eligibility", "The use is commercial: apply for an industry offer",
       "实际为商业用途，请申请产业类方案"),
    _r("complaint-upheld", "uphold_complaint", "Founded: the product or registration was corrected or acted on",
       "投诉（异议）成立，已整改或处理"),
    _r("complaint-unfounded", "dismiss_complaint", "Not supported by the facts found", "经核查，投诉（异议）不成立"),
    _r("complaint-out-of-scope", "dismiss_complaint", "Outside this platform's remit; the filer was told where to turn",
       "不属于本平台受理范围，已告知受理渠道"),
    _r("template-too-narrow", "reject_template", "A parameter lets the template single out small groups",
       "模板参数可将查询范围缩小到极少数对象"),
    _r("template-unclear", "reject_template", "The template's name, description or parameters are unclear",
       "模板的名称、说明或参数不清楚"),
    _r("template-outside-purpose", "reject_template", "The template asks what the listing is not opened for",
       "模板查询内容超出该数据产品的开放用途"),
    _r("complaint-duplicate", "dismiss_complaint", "Duplicates a complaint already handled",
       "与已处理的投诉（异议）重复"),
)
BY_CODE = {r.code: r for r in REASONS}
# An approval needs no justification beyond "it meets the standard"; every other decision names its reason.
DEFAULTS = {"approve": "meets-standard", "approve_template": "meets-standard", "submit": "initial-submission"}


def codes_for(action: str) -> list[str]:
    return [r.code for r in REASONS if action in r.actions]


def check(action: str, code: str | None) -> str:
    """The code to record for `action`, or a 422 that lists the codes that fit."""
    code = (code or "").strip() or DEFAULTS.get(action)
    reason = BY_CODE.get(code or "")
    if reason is None or action not in reason.actions:
        allowed = ", ".join(codes_for(action))
        said = f"The reason code {code!r} does not fit" if code else "A reason code is required for"
        names = "、".join(BY_CODE[c].zh for c in codes_for(action))
        chosen = BY_CODE[code].zh if code in BY_CODE else code
        said_zh = f"所选原因（{chosen}）不适用于此操作" if code else "请为此操作选择原因"
        raise UnknownReasonCode(f"{said} the action {action!r}; use one of: {allowed}",
                                zh=f"{said_zh}；可选：{names}")
    return reason.code
