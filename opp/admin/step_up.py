"""Step-up for high-risk approvals (SPEC §7.7 [ext], RFC 9470).

With ``oauth.step_up`` configured, approving a high-risk draft needs an approver whose token says
they authenticated recently (``auth_time`` within ``max_age``) and, when configured, with an
accepted ``acr``. Otherwise 401 ``agent.step_up_required`` with an
``insufficient_user_authentication`` challenge telling the client what to ask its IdP for.
Opaque admin tokens carry no ``auth_time``: they cannot approve high-risk drafts then.
"""

from __future__ import annotations

import datetime as dt

from opp.admin.auth import AdminIdentity
from opp.codes import ReasonCode
from opp.errors import OppError
from opp.oauth.challenge import step_up_challenge
from opp.oauth.plan import StepUpPlan

__all__ = ["require_step_up"]


def _refuse(plan: StepUpPlan, code: ReasonCode, message: str) -> OppError:
    header = step_up_challenge(plan.max_age_s, sorted(plan.acr), message)
    return OppError(code, message, headers={"WWW-Authenticate": header})


def require_step_up(identity: AdminIdentity, plan: StepUpPlan, now: dt.datetime) -> None:
    """Raise unless ``identity`` satisfies ``plan`` (no-op when step-up is not configured)."""
    if not plan.enabled:
        return
    auth_time = identity.auth_time
    if auth_time is not None and (isinstance(auth_time, bool) or not isinstance(auth_time, int | float)):
        raise _refuse(plan, ReasonCode.STEP_UP_INVALID, "The auth_time claim is malformed.")
    if plan.max_age_s is not None:
        if auth_time is None:
            raise _refuse(
                plan, ReasonCode.STEP_UP_REQUIRED, "Approving a high-risk draft needs a recent sign-in."
            )
        age = now.timestamp() - auth_time
        if age > plan.max_age_s or age < -60:
            raise _refuse(
                plan, ReasonCode.STEP_UP_REQUIRED, "The approver's sign-in is too old; sign in again."
            )
    if plan.acr and identity.acr not in plan.acr:
        raise _refuse(
            plan, ReasonCode.STEP_UP_REQUIRED, "Approving a high-risk draft needs a stronger sign-in."
        )
