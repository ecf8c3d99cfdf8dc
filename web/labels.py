"""The names people see for enumerated values and form fields, in English, the pages' source language.

The Chinese for each is in the gettext catalog (web/locale), with the kind as its context
(msgctxt "status", msgid "Published"): `web.extractors.extract_labels` reads them
(keep each a single literal) for `make messages`.
"""

from __future__ import annotations

LABELS: dict[str, dict[str, str]] = {
    "grade": {
        "general": "General", "important": "Important", "core": "Core",
    },
    "status": {
        "draft": "Draft", "submitted": "Submitted", "published": "Published", "rejected": "Rejected",
        "changes_requested": "Changes requested", "suspended": "Suspended", "retired": "Retired",
        "ordering_paused": "Ordering paused", "pending_approval": "Pending approval",
        "awaiting_payment": "Awaiting payment", "active": "Active", "expired": "Expired", "revoked": "Revoked",
        "refunded": "Refunded", "pending": "Pending", "succeeded": "Received", "failed": "Failed",
        "partially_refunded": "Partly refunded", "expired_session": "Checkout expired", "open": "Open",
        "notice": "Under public notice",
    },
    "scenario": {
        "public_governance": "Public governance", "public_welfare": "Public welfare", "industry": "Industry",
    },
    "role": {
        "provider": "Provider", "data_office": "Data office", "enterprise": "Enterprise", "finance": "Finance",
        "admin": "Operator",
    },
    "column_role": {
        "dimension": "Dimension", "measure": "Measure", "identifier": "Identifier", "excluded": "Excluded",
        "date": "Date dimension", "datetime": "Date-time dimension",
    },
    "decision": {
        "approve": "Approve", "reject": "Reject", "request_changes": "Request changes",
    },
    "account_type": {
        "asset": "Asset", "liability": "Liability", "equity": "Equity", "revenue": "Revenue", "expense": "Expense",
    },
    "method": {
        "bank_transfer": "Bank transfer", "stripe": "Card (Stripe)",
    },
    "severity": {
        "error": "Error", "warning": "Warning", "info": "Note",
    },
    "looks_like": {
        "id_card": "looks like ID-card numbers", "mobile_phone": "looks like mobile numbers",
        "unique_per_row": "unique per row",
    },
    "finding": {
        "identifier-exposed": "An identifier-like column is a dimension or measure",
        "values-outside-bounds": "Values fall outside the bounds",
        "keys-never-occur": "Some public keys never occur in the data",
        "values-not-in-keys": "The data holds values outside the public keys",
        "keys-unknown": "The dimension has no public keys", "keys-suggested": "Keys could be confirmed from the data",
        "privacy-unit-required": "An identifier repeats: a person must be the unit",
        "row-bound-too-small": "The data has more rows than the public row bound",
        "bounds-reveal-extremes": "Bounds equal the observed min/max, which reveals them",
        "rows-truncated": "Some persons have more rows than k: truncated",
    },
    "action": {
        "submit": "Submitted", "submit_revision": "Change submitted", "publish": "Published", "reject": "Rejected",
        "request_changes": "Changes requested", "approve_revision": "Change approved",
        "reject_revision": "Change rejected", "request_revision_changes": "Change sent back",
        "move_version": "New version", "suspend": "Suspend", "resume": "Resume", "pause_ordering": "Pause ordering",
        "resume_ordering": "Resume ordering", "retire": "Retire", "raise_grade": "Raise the grade",
        "lower_grade": "Lower the grade", "request_lower_grade": "Lowering requested", "correct": "Correction",
    },
    "revision": {
        "version": "New version", "dictionary": "Dictionary change", "grade": "Grade change",
        "initial": "First review",
    },
    "licence_action": {
        "suspend": "Suspend", "resume": "Resume", "revoke": "Revoke",
    },
    "group_by": {
        "month": "by month", "listing": "by listing", "provider": "by provider", "scenario": "by scenario",
    },
    "recon": {
        "matched": "Matched", "missing_in_ledger": "Missing in the ledger", "missing_in_stripe": "Missing in Stripe",
        "mismatches": "Amount or fee mismatches", "payout_mismatches": "Payouts that do not add up",
    },
    "sort": {
        "relevance": "Relevance", "newest": "Newest", "title": "Title", "price_asc": "Price, low to high",
        "price_desc": "Price, high to low",
    },
    "complaint_kind": {
        "complaint": "Complaint", "objection": "Objection",
    },
    "complaint_status": {
        "open": "Waiting for an answer", "handled": "Answered",
    },
    "complaint_decision": {
        "upheld": "Upheld", "dismissed": "Dismissed",
    },
    "security_decision": {
        "pass": "Passed", "fail": "Failed",
    },
    "risk_level": {
        "low": "Low", "medium": "Medium", "high": "High",
    },
    "cycle": {
        "realtime": "Real time", "daily": "Daily", "weekly": "Weekly", "monthly": "Monthly", "quarterly": "Quarterly",
        "yearly": "Yearly", "once": "Once",
    },
    "statement": {
        "paid": "Paid in full; licence active", "partial": "Received in part; the rest stays due",
        "no-reference": "No payment reference in the remark", "unknown-reference": "Unknown reference",
        "not-pending": "Already confirmed, or not a pending transfer",
        "amount-too-high": "More than is due: handle by hand", "already-imported": "This line was imported before",
    },
    "query_status": {
        "queued": "Queued", "running": "Running", "succeeded": "Done", "refunded": "Budget given back",
        "failed": "Failed",
    },
    "audit_action": {
        "api_key.created": "API key created", "user.created": "User created", "dataset.uploaded": "Dataset uploaded",
        "dataset.dictionary_set": "Dictionary saved", "dataset.keys_confirmed": "Public keys confirmed",
        "listing.created": "Listing drafted", "listing.updated": "Listing edited",
        "listing.offer_added": "Offer added", "license.applied": "Licence applied for",
        "license.activated": "Licence activated", "payment.started": "Payment started",
        "payment.confirmed": "Payment confirmed", "payment.part_received": "Part received",
        "payment.refunded": "Refund", "payment.statement_imported": "Bank statement imported",
        "reconciliation.run": "Reconciliation", "treasury.remitted": "Remitted to the treasury",
        "query.charged": "Query charged", "query.released": "Query released",
        "query.refunded": "Query budget given back", "query.refused": "Query refused",
        "organization.registered": "Enterprise registered", "registration.initial": "Registered",
        "registration.change": "Registration changed", "registration.correction": "Corrected",
        "registration.cancellation": "Registration cancelled",
        "user.two_factor_enrolment_started": "Two-factor enrolment started",
        "user.two_factor_enabled": "Two-factor sign-in turned on",
        "user.two_factor_disabled": "Two-factor sign-in turned off",
        "user.two_factor_recovery_code_used": "Recovery code used",
        "user.two_factor_recovery_codes_renewed": "Recovery codes renewed",
        "admin.two_factor_reset": "Two-factor reset by an admin", "auth.two_factor_passed": "Second factor passed",
        "auth.sso_signed_in": "Signed in by single sign-on", "auth.sso_linked": "Single sign-on identity linked",
        "auth.sso_account_created": "Account created by single sign-on",
        "auth.sso_unlinked": "Single sign-on identity unlinked",
        "organization.member_role_changed": "Member's role changed",
    },
    "open_status": {
        "running": "Running", "published": "Published", "partial": "Partly published", "failed": "Failed",
    },
    "registration_status": {
        "notice": "Under public notice", "active": "Registered", "cancelled": "Cancelled",
    },
    "registration_kind": {
        "initial": "First registration", "change": "Change", "correction": "Correction",
        "cancellation": "Cancellation",
    },
    "agreement_status": {
        "active": "Active", "not_started": "Not started", "expired": "Expired", "revoked": "Revoked",
    },
    "subject": {
        "listing": "Listing", "license": "Licence", "registration": "Registration", "payment": "Payment",
        "dataset": "Dataset", "query": "Query",
    },
    "template_status": {
        "submitted": "Submitted", "approved": "Approved", "rejected": "Rejected", "superseded": "Superseded",
    },
    "template_parameter": {
        "key": "One key", "keys": "Keys", "number": "Number", "integer": "Integer",
    },
}

# A form field's name, for the review page's "what changed" and for errors naming the field (context "field").
FIELDS: dict[str, str] = {
    "title": "Title", "description": "Description", "keywords": "Keywords", "sector": "Sector",
    "update_cycle": "Update cycle", "proposed_grade": "Proposed grade", "offers": "Offer", "name": "Name",
    "scenario": "Scenario", "price_minor": "Price", "term_days": "Term (days)", "epsilon_budget": "ε budget",
    "query_quota": "Queries", "dp_policy": "Differential privacy policy", "max_epsilon_per_query": "Max ε per query",
    "default_epsilon": "Default ε", "min_group_size": "Min group size", "Offer 1 price": "Offer 1 price",
    "Offer 2 price": "Offer 2 price", "Amount": "Amount", "Ceiling price": "Ceiling price", "purpose": "Purpose",
    "amount_minor": "Amount", "bank_reference": "Payment reference", "reason": "Reason",
    "credit_code": "Unified social credit code", "admin_email": "Admin e-mail", "admin_password": "Password",
    "authorizing_body": "Authorizing body", "operator": "Operator", "departments": "Provider departments",
    "datasets": "Datasets", "sectors": "Sectors", "starts_on": "Starts on", "ends_on": "Ends on",
    "conditions": "Conditions", "price_per_query_minor": "Price per query",
    "Offer 1 price per query": "Offer 1 price per query", "Offer 2 price per query": "Offer 2 price per query",
}
