"""Datasets: uploads encrypted on arrival (profiled in memory first), versions, and the dictionary."""

from __future__ import annotations

import builtins
import hashlib
import io
import math
import re
from collections.abc import Callable
from typing import Any

import polars as pl
from sqlmodel import Session, col, select

from core import crypto, keys, store
from core.audit import Actor, record
from core.auth import Principal
from core.config import get_settings
from core.errors import Forbidden, InvalidInput, NotFound
from core.models import utcnow
from core.times import iso, parse_one
from market import contributions
from market import repository as repo
from market import unit as privacy_unit
from market.cells import MissingCount
from market.errors import InvalidDictionary, KeysNotConfirmed, PrivacyUnitRequired
from market.files import Table, read_table
from market.models import Dataset, DatasetVersion, Listing
from market.profile import findings, profile_frame
from market.quality import upload_quality
from market.schemas import (
    ColumnProfile,
    DatasetDetail,
    DatasetPage,
    DatasetRead,
    Dictionary,
    DictionaryColumn,
    Finding,
    KeysConfirm,
    MissingRead,
    ProfileRead,
    VersionRead,
)
from market.service.common import LIVE, move
from market.service.registrations import registrations
from market.service.versions import versions

NAME_RE = re.compile(r"^[a-z][a-z0-9_]{0,62}$")


def dtype_name(dtype: pl.DataType) -> str:
    if dtype == pl.Boolean:
        return "bool"
    if dtype.is_integer():
        return "int"
    if dtype.is_float():
        return "float"
    return "string"


def _as_supported(frame: pl.DataFrame) -> pl.DataFrame:
    """Dates, decimals and the like become text: the dictionary knows only bool, int, float and string."""
    unsupported = [c for c, t in frame.schema.items() if dtype_name(t) == "string" and t != pl.String]
    return frame.with_columns(pl.col(unsupported).cast(pl.String)) if unsupported else frame


class DatasetService:
    def upload(
        self, session: Session, who: Principal, name: str, filename: str, data: bytes, encoding: str | None = None,
        missing_values: str | None = None, changelog: str = "",
    ) -> DatasetRead:
        """Store an upload as an encrypted Parquet version; the plaintext never touches disk.

        `missing_values` (comma-separated) replaces the default missing-value markers; `changelog` is the
        version's one line for licensees ("2024 figures added")."""
        name = name.strip().lower()
        if not NAME_RE.match(name):
            raise InvalidInput("A dataset name is its table name in queries: lower-case letters, digits and "
                               "underscores, starting with a letter")
        table = read_table(data, filename, encoding, missing_values)
        dataset = repo.dataset_by_name(session, name)
        if dataset is None:
            dataset = Dataset(name=name, provider_org_id=who.organization_id, created_by=who.user_id)
            session.add(dataset)
            session.flush()
        elif dataset.provider_org_id != who.organization_id:
            raise Forbidden(f"The dataset name {name!r} belongs to another provider")
        return self._store_version(session, who, dataset, table, changelog.strip()[:500])

    def _store_version(self, session: Session, who: Principal, dataset: Dataset, table: Table,
                       changelog: str = "") -> DatasetRead:
        frame = _as_supported(table.frame)
        columns = [{"name": n, "dtype": dtype_name(t)} for n, t in frame.schema.items()]
        profile = profile_frame(frame, {c["name"]: c["dtype"] for c in columns})
        profile["missing"] = [_missing_read(m).model_dump() for m in table.missing]
        previous = repo.latest_version(session, dataset.id or 0)
        carried = _carried(previous, columns)
        profile["quality"] = upload_quality(frame, carried)
        buffer = io.BytesIO()
        frame.write_parquet(buffer, statistics=False)
        plaintext = buffer.getvalue()
        settings = get_settings()
        sealed = crypto.encrypt_for(keys.sealing_key(settings), plaintext)  # the public half is all we hold
        version = (previous.version + 1) if previous else 1
        storage_key = store.storage_key(dataset.id or 0, version, sealed.ciphertext)
        store.store_for(settings).put(storage_key, sealed.ciphertext)
        row = DatasetVersion(
            dataset_id=dataset.id or 0, version=version, sha256=hashlib.sha256(plaintext).hexdigest(),
            row_count=profile["rows"], size_bytes=len(plaintext), columns=columns, storage_key=storage_key,
            sealed_key=sealed.sealed_key, dictionary=carried, profile=profile,
            changelog=changelog,
        )
        session.add(row)
        session.flush()
        record(session, who.actor, "dataset.uploaded", "dataset", dataset.id,
               {"version": version, "sha256": row.sha256, "rows": row.row_count, "columns": len(columns),
                "encoding": table.encoding, "missing": {m.column: m.count for m in table.missing},
                "changelog": changelog})
        checked = findings(row.dictionary, profile)
        moved = self._move_unchanged(session, who, row, previous, checked)
        return self._read(dataset, row, table.encoding, checked, moved).model_copy(
            update={"missing_values": [MissingRead.model_validate(m) for m in profile["missing"]]})

    def _move_unchanged(self, session: Session, who: Principal, version: DatasetVersion,
                        previous: DatasetVersion | None, checked: list[Finding]) -> list[int]:
        """Live listings follow a new version at once when nothing public changes; otherwise through review.
        Important data (重要数据) never moves unreviewed: its new version opens a review round, published only
        after a data security review of that version passed."""
        if previous is None or previous.columns != version.columns or any(f.severity == "error" for f in checked):
            return []
        moved = []
        for listing in repo.listings_of_dataset(session, version.dataset_id):
            if listing.status in LIVE and listing.revision_kind is None and listing.dictionary == version.dictionary:
                if listing.grade == "important":
                    self.open_version_round(session, who, listing, version)
                    continue
                self.move_listing(session, who, listing, version)
                moved.append(listing.id or 0)
        return moved

    def open_version_round(self, session: Session, who: Principal, listing: Listing, version: DatasetVersion) -> None:
        """Put a new version of a live listing under review (`revision.kind` version): until it is approved, the
        catalog, the sandbox and every licensee keep the approved version."""
        listing.proposed_version_id, listing.proposed_dictionary = version.id, version.dictionary
        listing.approvals, listing.submitted_by, listing.submitted_at = 0, who.user_id, utcnow()
        listing.revision_kind, listing.revision_status = "version", "submitted"
        move(session, who, listing, "submit_revision", listing.status, "new-version", dataset_version=version.version)

    def move_listing(self, session: Session, who: Principal, listing: Listing, version: DatasetVersion) -> None:
        old = listing.dataset_version_id
        listing.dataset_version_id = version.id or 0
        move(session, who, listing, "move_version", listing.status, "new-version",
             f"Moved to version {version.version}: the public dictionary is unchanged", version=version.version)
        # The registration is public: it names the version, never a hash of the data (a plain hash would let
        # anyone who can guess the rows confirm them).
        registrations.change(session, who, listing, "new-version",
                             {"dataset_version": version.version, "previous_version_id": old})
        versions.announce(session, who, listing, old)

    def _read(self, dataset: Dataset, version: DatasetVersion, encoding: str | None = None,
              checked: list[Finding] | None = None, moved: list[int] | None = None) -> DatasetRead:
        return DatasetRead.model_validate({
            "id": dataset.id, "name": dataset.name, "version": version.version, "columns": version.columns,
            "sha256": version.sha256, "row_count": version.row_count, "size_bytes": version.size_bytes,
            "encoding": encoding, "findings": checked or [], "listings_moved": moved or [],
            "changelog": version.changelog})

    def reseal_all(self, session: Session, reseal: Callable[[list[str]], list[str]]) -> int:
        """Give every version's data key a new seal (sandbox key rotation); the ciphertexts stay as they are."""
        versions = list(session.exec(select(DatasetVersion).order_by(col(DatasetVersion.id))).all())
        for version, sealed in zip(versions, reseal([v.sealed_key for v in versions]), strict=True):
            version.sealed_key = sealed
            session.add(version)
        record(session, Actor.system(), "sandbox.key_rotated", "dataset_versions", len(versions), {})
        return len(versions)

    def own_dataset(self, session: Session, who: Principal, dataset_id: int) -> tuple[Dataset, DatasetVersion]:
        """One of the caller's datasets with its latest version (404 for anyone else's)."""
        dataset = session.get(Dataset, dataset_id)
        if dataset is None or dataset.provider_org_id != who.organization_id:
            raise NotFound(f"No dataset {dataset_id} of yours")
        version = repo.latest_version(session, dataset_id)
        assert version is not None
        return dataset, version

    def list(self, session: Session, who: Principal, limit: int, offset: int) -> DatasetPage:
        """The provider's datasets with their versions."""
        rows, total = repo.datasets_of(session, who.organization_id, limit, offset)
        return DatasetPage(items=[self._detail(session, d) for d in rows], total=total)

    def detail(self, session: Session, who: Principal, dataset_id: int) -> DatasetDetail:
        dataset, _ = self.own_dataset(session, who, dataset_id)
        return self._detail(session, dataset)

    def _detail(self, session: Session, dataset: Dataset) -> DatasetDetail:
        versions = repo.versions_of(session, dataset.id or 0)
        return DatasetDetail(
            id=dataset.id or 0, name=dataset.name, dictionary=versions[0].dictionary if versions else None,
            listings=[listing.id or 0 for listing in repo.listings_of_dataset(session, dataset.id or 0)],
            versions=[VersionRead.model_validate({**v.model_dump(), "has_dictionary": bool(v.dictionary)})
                      for v in versions])

    def profile(self, session: Session, who: Principal, dataset_id: int) -> ProfileRead:
        """What the latest upload looked like (the provider's own data: nobody else sees this)."""
        dataset, version = self.own_dataset(session, who, dataset_id)
        profile = version.profile or {"rows": version.row_count, "columns": []}
        per_person = [privacy_unit.person_rows(profile, name) for name in profile.get("per_person", {})]
        return ProfileRead(dataset_id=dataset.id or 0, version=version.version, rows=profile["rows"],
                           columns=[ColumnProfile.model_validate(c) for c in profile["columns"]],
                           per_person=[p for p in per_person if p is not None])

    def checks(self, session: Session, who: Principal, dataset_id: int) -> builtins.list[Finding]:
        """The working dictionary checked against the latest upload's profile."""
        _, version = self.own_dataset(session, who, dataset_id)
        return findings(version.dictionary, version.profile)

    def set_dictionary(self, session: Session, who: Principal, dataset_id: int, dictionary: Dictionary) -> Dictionary:
        """Check the dictionary against the dataset's columns and store it on the latest version.

        This is the provider's working copy: a listing takes it only when it is submitted and approved."""
        dataset, version = self.own_dataset(session, who, dataset_id)
        checked = check_dictionary(dictionary, {c["name"]: c["dtype"] for c in version.columns})
        _check_unit(checked, version.profile)
        version.dictionary = checked.model_dump(mode="json")
        session.add(version)
        record(session, who.actor, "dataset.dictionary_set", "dataset", dataset.id, {"version": version.version})
        return checked

    def check_unit(self, version: DatasetVersion) -> None:
        """Refuse a dictionary whose privacy unit or row bound does not hold for this version's data (422)."""
        _check_unit(_working(version), version.profile)

    def confirm_keys(self, session: Session, who: Principal, dataset_id: int, body: KeysConfirm) -> Dictionary:
        """Make values seen in the data a dimension's public keys, once the provider vouches they are public."""
        dataset, version = self.own_dataset(session, who, dataset_id)
        dictionary = _working(version)
        column = next((c for c in dictionary.columns if c.name == body.column), None)
        if column is None or column.role != "dimension":
            raise InvalidDictionary(f"{body.column!r} is not a dimension in the dictionary: make it one first",
                                    zh=f"{body.column} 在数据字典中不是维度字段：请先将其设为维度")
        keys = _confirmable(version, body)
        if not body.public_knowledge:
            keys = _frequent(version, body, keys, dictionary.privacy_unit.column)
        column.keys, column.keys_public_knowledge = keys, body.public_knowledge
        checked = check_dictionary(dictionary, {c["name"]: c["dtype"] for c in version.columns})
        version.dictionary = checked.model_dump(mode="json")
        session.add(version)
        record(session, who.actor, "dataset.keys_confirmed", "dataset", dataset.id,
               {"version": version.version, "column": body.column, "keys": len(keys),
                "public_knowledge_statement": body.public_knowledge})
        return checked


def _check_unit(dictionary: Dictionary, profile: dict[str, Any] | None) -> None:
    """A row is the unit only when the upload showed no person with two rows; the rows fit the public bound."""
    found = privacy_unit.findings(dictionary.model_dump(mode="json"), profile or {"rows": 0, "columns": []})
    for finding in found:
        if finding.code == "privacy-unit-required":
            raise PrivacyUnitRequired(finding.message, zh=finding.message_zh, column=finding.column)
        if finding.severity == "error":
            raise InvalidDictionary(finding.message, zh=finding.message_zh)


def _frequent(version: DatasetVersion, body: KeysConfirm, keys: list[Any], unit: str | None) -> list[Any]:
    """Without the provider's statement, only keys seen often enough (rows and persons) may be confirmed."""
    rare = contributions.rare_keys(version.profile, body.column, keys, unit)
    if body.keys is None:  # "all of them": keep the frequent ones, if any
        keys = [k for k in keys if k not in rare]
        rare = [] if keys else rare
    if rare:
        listed = ", ".join(map(str, rare[:20]))
        raise KeysNotConfirmed(
            f"These values of {body.column!r} occur in fewer than {contributions.MIN_KEY_ROWS} rows or "
            f"{contributions.MIN_KEY_PERSONS} persons, so listing them would reveal who is in the data: {listed}. "
            "Leave them out, type public keys yourself, or state that the list is public knowledge",
            zh=f"{body.column} 的这些取值出现不足 {contributions.MIN_KEY_ROWS} 行或不足 "
               f"{contributions.MIN_KEY_PERSONS} 人，公开它们会暴露数据中有谁：{listed}。请去掉这些取值、自行填写"
               "公开取值，或声明该列表属于公开常识")
    return keys


def _missing_read(missing: MissingCount) -> MissingRead:
    message, message_zh = missing.sentence()
    return MissingRead(column=missing.column, count=missing.count, markers=missing.markers, message=message,
                       message_zh=message_zh)


def _working(version: DatasetVersion) -> Dictionary:
    if not version.dictionary:
        raise InvalidDictionary("Write the data dictionary first (PUT /datasets/{id}/dictionary)",
                                zh="请先编写数据字典（PUT /datasets/{id}/dictionary）")
    return Dictionary.model_validate(version.dictionary)


def _confirmable(version: DatasetVersion, body: KeysConfirm) -> list[Any]:
    seen = next((c for c in (version.profile or {}).get("columns", []) if c["name"] == body.column), None)
    values = seen.get("values") if seen else None
    if not values:
        raise InvalidDictionary(f"No values of {body.column!r} were kept at upload (too many distinct values, or "
                                "it looks like an identifier): type its keys in the dictionary instead",
                                zh=f"上传时没有保留 {body.column} 的取值（不同取值太多，或疑似标识字段）："
                                   "请在数据字典中自行填写其公开取值")
    if body.keys is None:
        return list(values)
    unseen = [k for k in body.keys if k not in values]
    if unseen:
        raise InvalidDictionary(f"These keys were not seen in the data: {unseen}; confirm only values it holds",
                                zh=f"这些取值在数据中未出现：{unseen}；只能确认数据中存在的取值")
    return list(body.keys)


def _carried(previous: DatasetVersion | None, columns: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The previous version's dictionary, if it still fits the new columns."""
    if previous is None or not previous.dictionary:
        return None
    try:
        return check_dictionary(Dictionary.model_validate(previous.dictionary),
                                {c["name"]: c["dtype"] for c in columns}).model_dump(mode="json")
    except InvalidDictionary:
        return None


def check_dictionary(dictionary: Dictionary, dtypes: dict[str, str]) -> Dictionary:
    """The dictionary fits the columns: known names, each once, measures numeric with finite bounds."""
    seen: set[str] = set()
    for column in dictionary.columns:
        if column.name not in dtypes:
            raise InvalidDictionary(f"The dataset has no column {column.name!r}")
        if column.name in seen:
            raise InvalidDictionary(f"The column {column.name!r} is described twice")
        seen.add(column.name)
        _check_column(column.name, column.role, column.bounds, dtypes[column.name])
        column.period = _checked_time(column, dtypes[column.name])
    unit = dictionary.privacy_unit
    if unit.column is not None:
        roles = {c.name: c.role for c in dictionary.columns}
        if roles.get(unit.column) != "identifier":
            raise InvalidDictionary(f"The privacy unit {unit.column!r} must be a column with the role identifier",
                                    zh=f"隐私单位 {unit.column} 必须是角色为「标识」的字段")
    if privacy_unit.row_bound(dictionary) < unit.max_contributions:
        raise InvalidDictionary("The row bound must be at least the rows kept per person",
                                zh="行数上限不得小于每人保留的记录数")
    missing = [n for n in dtypes if n not in seen]
    extra = [{"name": n, "role": "excluded", "description": ""} for n in missing]
    return Dictionary.model_validate({**dictionary.model_dump(), "columns": [
        *dictionary.model_dump()["columns"], *extra]})


def _check_column(name: str, role: str, bounds: tuple[float, float] | None, dtype: str) -> None:
    if role == "measure":
        if dtype not in ("int", "float"):
            raise InvalidDictionary(f"The measure {name!r} must be numeric; it holds {dtype} values")
        if bounds is None or not all(math.isfinite(b) for b in bounds) or bounds[0] >= bounds[1]:
            raise InvalidDictionary(f"The measure {name!r} needs finite bounds [low, high] with low < high")


def _checked_time(column: DictionaryColumn, dtype: str) -> tuple[str, str] | None:
    """A date or datetime dimension: text in the data, keys none of its own, a period that reads as dates in
    order. Returns the period in canonical ISO text."""
    name = column.name
    if column.time is None:
        if column.period is not None:
            raise InvalidDictionary(f"The column {name!r} has a period but is not declared a date or datetime column",
                                    zh=f"字段 {name} 声明了时间范围，但未声明为日期或日期时间字段")
        return None
    if column.role != "dimension" or dtype != "string" or column.keys:
        raise InvalidDictionary(f"The date column {name!r} must be a dimension holding text dates, without keys "
                                f"(it holds {dtype} values)",
                                zh=f"日期字段 {name} 必须是以文本记录日期的维度字段，且不列公开取值")
    if column.period is None:
        return None
    first, last = (parse_one(v, column.time) for v in column.period)
    if first is None or last is None or first > last:
        raise InvalidDictionary(f"The period of {name!r} must be two {column.time}s, first then last, such as "
                                "2013-01-01 and 2013-12-31",
                                zh=f"字段 {name} 的时间范围须为先后两个{'日期' if column.time == 'date' else '时间'}，"
                                   "如 2013-01-01 和 2013-12-31")
    return iso(first), iso(last)


datasets = DatasetService()
