"""Who may call the market's routes, beyond core's single-role dependencies."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from core.auth import Principal, Role, require

# Providers act on their own listings; the data office on every listing past draft.
ListingStaff = Annotated[Principal, Depends(require(Role.provider, Role.data_office))]
