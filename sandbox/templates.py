"""Query templates (查询模板): SQL whose shape the data office approved, whose parameters an enterprise fills.

A provider (or the data office) proposes a template for a listing: one SQL aggregate with `:name`
parameters, each typed and bounded by the listing's approved dictionary (a dimension's public keys, a
measure's bounds, an integer range). At proposal the SQL, filled with its example values, goes through
the sandbox's own parser and compiler, so a template that could never run is refused with the sandbox's
reason. The data office approves or rejects it with a reason code; approvals follow the listing reviews'
rule (nobody approves what they proposed, nobody approves twice, `important` data needs two people).

Running a template validates every value against its parameter and substitutes it into the parsed tree
as a literal built by sqlglot: a key is always the dictionary's own key (never the text sent), a number
is a number. The filled SQL then takes the normal path (`sandbox.service.queries`): the same checks, ε
charge, receipt and stored answers as the free SQL it equals. Parameters are chosen by the enterprise and
public, so nothing here reads the data.

On a listing where the data office set `templates_only`, free SQL is refused (`template-required`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlglot
from sqlalchemy import update
from sqlmodel import Session, col, func, select

from core.audit import record
from core.auth import Principal, Role
from core.errors import NotFound
from core.models import utcnow
from market import reasons
from market.errors import ListingStateConflict, SelfReview
from market.models import Listing
from market.repository import CATALOG_STATUSES
from market.service import DatasetTarget
from market.service import listings as listing_service
from market.service.common import APPROVALS_NEEDED, LIVE, get_listing
from sandbox import refusals_zh
from sandbox import sql as sql_parser
from sandbox.errors import (
    QueryRefused,
    TemplateInvalid,
    TemplateOutdated,
    TemplateParameterInvalid,
    TemplateStateConflict,
)
from sandbox.models import QueryTemplate, QueryTemplateReview
from sandbox.plan import compile_query
from sandbox.schemas import (
    QueryCreate,
    TemplateCreate,
    TemplatePage,
    TemplateParameter,
    TemplateRead,
    TemplateRef,
    TemplateReviewCreate,
    TemplateReviewRead,
    TemplateRule,
    TemplateRun,
)
from sandbox.spec import TableInfo

exp = sqlglot.exp
Value = str | int | float


@dataclass(frozen=True)
class TemplateUse:
    """What the query path needs to know of a template run: which version, on which listing."""

    id: int
    listing_id: int


class TemplateService:
    # --- reading ---------------------------------------------------------------------------------------

    def of_listing(self, session: Session, who: Principal | None, listing_id: int) -> TemplatePage:
        """A listing's templates: every version for its provider and the data office, approved ones for others."""
        listing = _visible_listing(session, who, listing_id)
        query = select(QueryTemplate).where(QueryTemplate.listing_id == listing_id)
        rows = session.exec(query.order_by(col(QueryTemplate.name), col(QueryTemplate.version).desc())).all()
        needed = _approvals_needed(listing.grade or listing.proposed_grade)
        if not _curates(who, listing.provider_org_id):
            rows = [t for t in rows if _runnable(t, needed)]
        return TemplatePage(items=[self._read(session, t, needed) for t in rows], total=len(rows),
                            templates_only=listing.templates_only)

    def pending(self, session: Session) -> list[TemplateRead]:
        """Every template version waiting for a data-office decision, oldest first (the office's queue)."""
        rows = session.exec(select(QueryTemplate).where(col(QueryTemplate.status).in_(("submitted", "approved")))
                            .order_by(col(QueryTemplate.id))).all()
        needs = [(t, _approvals_needed(self._grade(session, t.listing_id))) for t in rows]
        return [self._read(session, t, needed) for t, needed in needs if _open(t, needed)]

    def get(self, session: Session, who: Principal | None, listing_id: int, template_id: int) -> TemplateRead:
        listing = _visible_listing(session, who, listing_id)
        template = self._template(session, listing_id, template_id)
        needed = _approvals_needed(listing.grade or listing.proposed_grade)
        if not _runnable(template, needed) and not _curates(who, listing.provider_org_id):
            raise NotFound(f"No template {template_id}", zh=f"没有查询模板 {template_id}")
        return self._read(session, template, needed)

    # --- proposing and reviewing -----------------------------------------------------------------------

    def propose(self, session: Session, who: Principal, listing_id: int, body: TemplateCreate) -> TemplateRead:
        """Propose a template (or the next version of one by name); its SQL must compile with the example."""
        listing = get_listing(session, listing_id)
        if not _curates(who, listing.provider_org_id):
            raise NotFound(f"No listing {listing_id} of yours", zh=f"没有您的数据产品 {listing_id}")
        if listing.status not in LIVE:
            raise ListingStateConflict("Templates are proposed for a published listing: its dictionary must be "
                                       "approved first", zh="数据产品发布（数据字典获批）后才能提交查询模板")
        target = listing_service.query_target(session, listing_id)
        check(body, target)
        latest = session.exec(select(func.max(QueryTemplate.version)).where(
            QueryTemplate.listing_id == listing_id, QueryTemplate.name == body.name)).one()
        template = QueryTemplate(
            listing_id=listing_id, name=body.name, name_en=body.name_en, version=int(latest or 0) + 1,
            description=body.description, description_en=body.description_en, sql=body.sql.strip(),
            parameters=[p.model_dump() for p in body.parameters], example=body.example, proposed_by=who.user_id)
        session.add(template)
        session.flush()
        record(session, who.actor, "template.proposed", "query_template", template.id,
               {"listing_id": listing_id, "name": template.name, "version": template.version, "sql": template.sql})
        return self._read(session, template, _approvals_needed(target.grade))

    def review(self, session: Session, who: Principal, listing_id: int, template_id: int,
               body: TemplateReviewCreate) -> TemplateRead:
        """Record a data-office decision; a template is approved once the listing's grade has its approvals."""
        template = self._locked(session, listing_id, template_id)
        needed = _approvals_needed(self._grade(session, listing_id))
        if not _open(template, needed):
            raise TemplateStateConflict(f"This template version is {template.status}; only a submitted one is "
                                        "reviewed", zh=f"该模板版本的状态为“{_STATUS_ZH.get(template.status)}”，"
                                                       "只能审核待审核的模板")
        self._check_reviewer(session, template, who)
        code = reasons.check(f"{body.decision}_template", body.reason_code)
        session.add(QueryTemplateReview(template_id=template_id, reviewer_id=who.user_id, decision=body.decision,
                                        reason_code=code, comment=body.comment))
        if body.decision == "reject":
            template.status, template.decided_at = "rejected", utcnow()
        else:
            template.approvals += 1
            if template.approvals >= needed:
                self._supersede(session, template)
                template.status, template.decided_at = "approved", utcnow()
        session.add(template)
        session.flush()
        record(session, who.actor, f"template.review.{body.decision}", "query_template", template_id,
               {"listing_id": listing_id, "reason_code": code, "comment": body.comment, "status": template.status,
                "approvals": template.approvals, "version": template.version})
        return self._read(session, template, needed)

    def set_rule(self, session: Session, who: Principal, listing_id: int, body: TemplateRule) -> TemplatePage:
        """Require (or stop requiring) approved templates for every query on a listing."""
        listing = get_listing(session, listing_id)
        listing.templates_only = body.templates_only
        session.add(listing)
        session.flush()
        record(session, who.actor, "listing.templates_only", "listing", listing_id,
               {"templates_only": body.templates_only, "comment": body.comment})
        return self.of_listing(session, who, listing_id)

    def _check_reviewer(self, session: Session, template: QueryTemplate, who: Principal) -> None:
        if who.user_id == template.proposed_by:
            raise SelfReview("You proposed this template; another data-office user must review it",
                             zh="您提交了该查询模板，须由其他数据主管部门用户审核")
        again = session.exec(select(QueryTemplateReview.id).where(
            QueryTemplateReview.template_id == template.id, QueryTemplateReview.reviewer_id == who.user_id,
            QueryTemplateReview.decision == "approve")).first()
        if again is not None:
            raise SelfReview("You approved this template already; a second, different reviewer must approve",
                             zh="您已审核通过该查询模板，须由另一位审核人再次通过")

    def _supersede(self, session: Session, template: QueryTemplate) -> None:
        older = session.exec(select(QueryTemplate).where(
            QueryTemplate.listing_id == template.listing_id, QueryTemplate.name == template.name,
            QueryTemplate.status == "approved", QueryTemplate.id != template.id)).all()
        for old in older:
            old.status = "superseded"
            session.add(old)

    # --- running ---------------------------------------------------------------------------------------

    def query_for(self, session: Session, listing_id: int, template_id: int,
                  body: TemplateRun) -> tuple[QueryCreate, TemplateUse]:
        """The query a template run asks: its SQL with the enterprise's values, checked against each parameter."""
        template = self._template(session, listing_id, template_id)
        needed = _approvals_needed(self._grade(session, listing_id))
        if template.status == "approved" and not _runnable(template, needed):
            raise TemplateStateConflict(
                f"Template {template_id} was approved before the listing's grade was raised; it runs again once "
                f"{needed} data-office users have approved it",
                zh=f"该数据产品的分级已提高，查询模板 {template_id} 须经 {needed} 位数据主管部门用户"
                   "审核通过后才能再次运行")
        if template.status != "approved":
            raise TemplateStateConflict(
                f"Template {template_id} is {template.status}: only approved templates run",
                zh=f"查询模板 {template_id} 未获批准（{_STATUS_ZH.get(template.status)}），只有已批准的模板可以运行")
        target = listing_service.query_target(session, listing_id)
        params = [TemplateParameter.model_validate(p) for p in template.parameters]
        table = table_of(target)
        for parameter in params:  # the dictionary may have changed since the template was approved
            try:
                _check_parameter(parameter, table)
            except TemplateInvalid as exc:
                raise TemplateOutdated(
                    f"Template {template_id} no longer fits the listing's data dictionary: {exc.detail}",
                    zh=f"查询模板 {template_id} 已不符合该数据产品当前的数据字典（{exc.sentence_zh}），"
                       "须提交新版本并经审核后才能运行") from None
        sql = fill(template.sql, params, body.parameters, table)
        query = QueryCreate(license_id=body.license_id, sql=sql, epsilon=body.epsilon, run_async=body.run_async)
        return query, TemplateUse(template_id, listing_id)

    def ref(self, session: Session, template_id: int | None) -> TemplateRef | None:
        if template_id is None:
            return None
        template = session.get(QueryTemplate, template_id)
        return None if template is None else TemplateRef(id=template_id, name=template.name,
                                                         version=template.version)

    # --- rows ------------------------------------------------------------------------------------------

    def _template(self, session: Session, listing_id: int, template_id: int) -> QueryTemplate:
        template = session.get(QueryTemplate, template_id)
        if template is None or template.listing_id != listing_id:
            raise NotFound(f"No template {template_id} on listing {listing_id}",
                           zh=f"数据产品 {listing_id} 没有查询模板 {template_id}")
        return template

    def _locked(self, session: Session, listing_id: int, template_id: int) -> QueryTemplate:
        # Concurrent decisions on one template queue up on its row, so each sees the approvals before it.
        session.execute(update(QueryTemplate).where(col(QueryTemplate.id) == template_id).values(id=template_id))
        session.expire_all()
        return self._template(session, listing_id, template_id)

    def _grade(self, session: Session, listing_id: int) -> str:
        listing = get_listing(session, listing_id)
        return listing.grade or listing.proposed_grade

    def _read(self, session: Session, template: QueryTemplate, needed: int) -> TemplateRead:
        reviews = session.exec(select(QueryTemplateReview).where(QueryTemplateReview.template_id == template.id)
                               .order_by(col(QueryTemplateReview.id))).all()
        return TemplateRead.model_validate({
            **template.model_dump(), "approvals_needed": needed,
            "reviews": [TemplateReviewRead.model_validate(r, from_attributes=True) for r in reviews]})


def _visible_listing(session: Session, who: Principal | None, listing_id: int) -> Listing:
    """The listing whose templates `who` may read, else 404 (as if it did not exist).

    Its provider and the data office see theirs in any status; a signed-in user sees a listing approved once
    and not retired (licences may exist on it, as `of_listing` always allowed); an anonymous caller only what
    the public catalog shows (`market.repository.CATALOG_STATUSES`)."""
    listing = get_listing(session, listing_id)
    if _curates(who, listing.provider_org_id):
        return listing
    if listing.status in (LIVE if who is not None else CATALOG_STATUSES):
        return listing
    raise NotFound(f"No listing {listing_id}", zh=f"没有数据产品 {listing_id}")


def _curates(who: Principal | None, provider_org_id: int) -> bool:
    """The data office, and the listing's provider, see and propose every version of its templates."""
    if who is None:
        return False
    return who.role is Role.data_office or (who.role is Role.provider and who.organization_id == provider_org_id)


def _runnable(template: QueryTemplate, needed: int) -> bool:
    """Approved by as many people as the listing's grade needs *now*: raising a grade tightens at once."""
    return template.status == "approved" and template.approvals >= needed


def _open(template: QueryTemplate, needed: int) -> bool:
    """Waiting for a decision: submitted, or approved under a lower grade and short of approvals since."""
    return template.status == "submitted" or (template.status == "approved" and template.approvals < needed)


def _approvals_needed(grade: str) -> int:
    return APPROVALS_NEEDED.get(grade, max(APPROVALS_NEEDED.values()))


_STATUS_ZH = {"submitted": "待审核", "approved": "已批准", "rejected": "已驳回", "superseded": "已被新版本取代"}


def table_of(target: DatasetTarget) -> TableInfo:
    from sandbox.service import table_info

    return table_info(target)


# --- checking a proposal -----------------------------------------------------------------------------------


def check(body: TemplateCreate, target: DatasetTarget) -> None:
    """Refuse a template whose parameters do not fit the dictionary, or whose SQL does not compile filled
    with its example values (with the sandbox's own reason)."""
    from sandbox.service import policy_of

    table = table_of(target)
    names = [p.name for p in body.parameters]
    duplicate = next((n for n in names if names.count(n) > 1), None)
    if duplicate:
        raise TemplateInvalid(f"The parameter :{duplicate} is declared twice", zh=f"参数 :{duplicate} 重复声明")
    for parameter in body.parameters:
        _check_parameter(parameter, table)
    tree = _tree(body.sql)
    used = {p.name for p in tree.find_all(exp.Placeholder)}
    if "" in used or None in used:
        raise TemplateInvalid("Parameters are named (:name), never '?'", zh="模板参数须写作 :名称，不能使用“?”")
    undeclared, unused = sorted(used - set(names)), sorted(set(names) - used)
    if undeclared:
        raise TemplateInvalid(f"The SQL uses :{undeclared[0]}, which is not declared as a parameter",
                              zh=f"SQL 使用了未声明的参数 :{undeclared[0]}")
    if unused:
        raise TemplateInvalid(f"The parameter :{unused[0]} is declared but not used in the SQL",
                              zh=f"参数 :{unused[0]} 已声明，但 SQL 中没有使用")
    policy = policy_of(target)
    try:
        filled = fill(body.sql, body.parameters, body.example, table)
    except TemplateParameterInvalid as exc:
        raise TemplateInvalid(f"The example values do not fit: {exc.detail}",
                              zh=f"示例参数不符合要求：{exc.sentence_zh}") from None
    try:
        spec = sql_parser.parse(filled, table, policy)
        compile_query(spec, table, policy, target.dp_policy.epsilon_for(None))
    except sql_parser.QueryNotAllowed as exc:
        raise QueryRefused(exc.detail, zh=refusals_zh.translate(exc.reason, exc.line, exc.col)) from None


def _check_parameter(parameter: TemplateParameter, table: TableInfo) -> None:
    name, kind = parameter.name, parameter.type
    if any(bound is not None and not math.isfinite(bound) for bound in (parameter.min, parameter.max)):
        raise TemplateInvalid(f"The parameter :{name} needs finite numbers as min and max",
                              zh=f"参数 :{name} 的最小值和最大值须为有限的数字")
    column = next((c for c in table.columns if c.name == parameter.column), None)
    if kind in ("key", "keys"):
        if column is None or column.role != "dimension" or not column.keys:
            raise TemplateInvalid(f"The parameter :{name} must name a dimension with public keys",
                                  zh=f"参数 :{name} 须对应一个具有公开取值的维度字段")
    elif kind == "number":
        if column is None or column.role != "measure" or column.bounds is None:
            raise TemplateInvalid(f"The parameter :{name} must name a measure with bounds",
                                  zh=f"参数 :{name} 须对应一个具有取值范围的度量字段")
    elif parameter.min is None or parameter.max is None or parameter.min > parameter.max:
        raise TemplateInvalid(f"The integer parameter :{name} needs min ≤ max",
                              zh=f"整数参数 :{name} 须给出最小值和最大值（最小值不大于最大值）")


def _tree(sql: str) -> exp.Expr:
    try:
        tree = sqlglot.parse_one(sql)
    except sqlglot.errors.SqlglotError:
        raise TemplateInvalid("The template's SQL could not be parsed", zh="无法解析模板的 SQL") from None
    if tree is None:
        raise TemplateInvalid("The template's SQL is empty", zh="模板的 SQL 为空")
    return tree


# --- filling parameters ------------------------------------------------------------------------------------


def fill(sql: str, parameters: Sequence[TemplateParameter], values: dict[str, Any], table: TableInfo) -> str:
    """The template's SQL with every `:name` replaced by the literal of its checked value.

    Values become sqlglot literals inside the parsed tree, never text pasted into the SQL."""
    declared = {p.name: p for p in parameters}
    extra = sorted(set(values) - set(declared))
    if extra:
        raise TemplateParameterInvalid(f"The template has no parameter {extra[0]!r}",
                                       zh=f"该模板没有参数“{extra[0]}”", parameter=extra[0])
    literals = {name: _literal(p, values.get(name), table) for name, p in declared.items()}
    tree = _tree(sql)

    def substitute(node: exp.Expr) -> exp.Expr:
        if isinstance(node, exp.In):
            field_ = node.args.get("field")
            listed = node.expressions
            name = (field_.name if isinstance(field_, exp.Placeholder)
                    else listed[0].name if len(listed) == 1 and isinstance(listed[0], exp.Placeholder) else None)
            if name is not None and declared[name].type == "keys":
                node.set("field", None)
                node.set("expressions", list(literals[name]) if isinstance(literals[name], list)
                         else [literals[name]])
                return node
        if isinstance(node, exp.Placeholder):
            literal = literals[node.name]
            if isinstance(literal, list):
                raise TemplateInvalid(f"The list parameter :{node.name} may only follow IN",
                                      zh=f"列表参数 :{node.name} 只能用在 IN 之后")
            return literal.copy()
        return node

    return str(tree.transform(substitute).sql())


def _literal(parameter: TemplateParameter, value: Any, table: TableInfo) -> exp.Expr | list[exp.Expr]:
    name, label = parameter.name, parameter.label or parameter.name
    if value is None or value == "" or value == []:
        raise TemplateParameterInvalid(f"The parameter {name!r} is required", zh=f"请填写参数“{label}”",
                                       parameter=name)
    column = next((c for c in table.columns if c.name == parameter.column), None)
    if parameter.type == "key":
        return _key_literal(parameter, value, column.keys if column and column.keys else ())
    if parameter.type == "keys":
        items = value if isinstance(value, list) else [value]
        if len(items) > parameter.max_items:
            raise TemplateParameterInvalid(
                f"The parameter {name!r} takes at most {parameter.max_items} values; {len(items)} were given",
                zh=f"参数“{label}”最多可选 {parameter.max_items} 项，您选择了 {len(items)} 项", parameter=name)
        keys = column.keys if column and column.keys else ()
        chosen = [_key_literal(parameter, item, keys) for item in items]
        unique = {c.sql(): c for c in chosen}
        return list(unique.values())
    low, high = parameter.min, parameter.max
    if parameter.type == "number" and column is not None and column.bounds is not None:
        low = column.bounds[0] if low is None else max(low, column.bounds[0])
        high = column.bounds[1] if high is None else min(high, column.bounds[1])
    number = _number(parameter, value)
    if (low is not None and number < low) or (high is not None and number > high):
        raise TemplateParameterInvalid(f"The parameter {name!r} must lie {_range_en(low, high)}",
                                       zh=f"参数“{label}”须{_range_zh(low, high)}", parameter=name)
    return exp.Literal.number(repr(number) if isinstance(number, float) else str(number))


def _range_en(low: float | None, high: float | None) -> str:
    if low is not None and high is not None:
        return f"between {low:g} and {high:g}"
    return f"at least {low:g}" if low is not None else f"at most {high:g}"


def _range_zh(low: float | None, high: float | None) -> str:
    if low is not None and high is not None:
        return f"在 {low:g} 到 {high:g} 之间"
    return f"不小于 {low:g}" if low is not None else f"不大于 {high:g}"


def _key_literal(parameter: TemplateParameter, value: Any, keys: Sequence[Value]) -> exp.Expr:
    """The dictionary's own key equal to `value` (so a literal never carries text the caller wrote)."""
    if isinstance(value, (str, int, float)) and not isinstance(value, bool):
        for key in keys:
            if str(key) == str(value).strip():
                if isinstance(key, bool):
                    return exp.Boolean(this=key)
                return exp.Literal.string(key) if isinstance(key, str) else exp.Literal.number(str(key))
    label = parameter.label or parameter.name
    shown = str(value)[:40]
    raise TemplateParameterInvalid(f"{shown!r} is not a public key of {parameter.column} (parameter "
                                   f"{parameter.name!r})", zh=f"“{shown}”不是参数“{label}”可选的取值",
                                   parameter=parameter.name)


def _number(parameter: TemplateParameter, value: Any) -> int | float:
    label = parameter.label or parameter.name
    try:
        if isinstance(value, bool):
            raise ValueError
        number: int | float = (int(str(value).strip()) if parameter.type == "integer"
                               else float(str(value).strip()))
    except ValueError:
        kind, kind_zh = ("a whole number", "整数") if parameter.type == "integer" else ("a number", "数字")
        raise TemplateParameterInvalid(f"The parameter {parameter.name!r} must be {kind}",
                                       zh=f"参数“{label}”须为{kind_zh}", parameter=parameter.name) from None
    if isinstance(number, float) and not math.isfinite(number):
        raise TemplateParameterInvalid(f"The parameter {parameter.name!r} must be a finite number",
                                       zh=f"参数“{label}”须为有限的数字", parameter=parameter.name)
    return number


templates = TemplateService()
