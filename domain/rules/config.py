"""Every threshold of the rules, with its default and its sane domain.

The configuration in force is itself an input (``RulesSet``), so every detector, every
query and every replay uses the rules that were in force at each instant.
"""

import dataclasses
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from trueup.domain.emitted import ExitReason
from trueup.domain.errors import MalformedInput, shown

SECOND = 1_000
MINUTE = 60 * SECOND
# A century: a longer grace or cooldown is a typo, and any instant plus it stays printable.
MAX_DURATION_MS = 100 * 365 * 24 * 3600 * 1000
# Drift is measured against the local claim, so above 100 % is meaningful; a hundredfold
# is already "never".
MAX_THRESHOLD_PCT = Decimal(10_000)
# The largest amount a decimal input may hold (15 digits before the point).
MAX_AMOUNT = Decimal(10**15)


@dataclass(frozen=True, slots=True)
class RuleConfig:
    # Drift: how far the exchange may stray from the local claim, for how long, how often told.
    drift_threshold_pct: Decimal = Decimal(10)
    drift_grace_ms: int = 3 * SECOND
    drift_window_ms: int = 5 * MINUTE
    # Manual close: a key the exchange shows flat with no fill yet to say why (the position
    # poll read before the stream's fill came in) waits this long for that fill before the
    # close is reported with the seeds' rule (a fill in flight is no reason to guess; 0:
    # reported at once, as before this rule).
    close_cause_grace_ms: int = 3 * SECOND
    # Manual close: a loss stops new entries on the symbol for a while.
    cooldown_ms: int = 30 * MINUTE
    cooldown_enabled: bool = True
    # The exit reasons that cool a symbol down for cooldown_ms: the losses (in ExitReason's
    # order) ...
    cooldown_exit_reasons: tuple[str, ...] = ("LIQUIDATION", "ADL", "STOP_LOSS")
    # ... unless a reason has a duration of its own here (0: it cools nothing). Never mutated.
    cooldown_ms_by_exit_reason: dict[str, int] = field(default_factory=dict)

    def cooldown_for(self, exit_reason: str) -> int:
        """How long a close for ``exit_reason`` cools its symbol down (ms; 0: not at all)."""
        if not self.cooldown_enabled:
            return 0
        own = self.cooldown_ms_by_exit_reason.get(exit_reason)
        if own is not None:
            return own
        return self.cooldown_ms if exit_reason in self.cooldown_exit_reasons else 0

    # Stale and untracked: how long a finding must hold before it is reported.
    stale_grace_ms: int = 3 * SECOND
    untracked_grace_ms: int = 3 * SECOND
    # A paginated snapshot not finished within this is a failed sync.
    pagination_timeout_ms: int = 10 * SECOND
    # Orders.
    order_timeout_ms: int = 20 * SECOND
    partial_fill_stall_ms: int = 20 * SECOND
    # can-open vouches for nothing when the last complete snapshot of the exchange's
    # positions is older than this at the instant asked (3 x the default poll interval).
    freshness_limit_ms: int = 15 * SECOND
    # Identical failures of one account (POSITION_SYNC_FAILED, RATE_LIMIT from one place)
    # are told once per window, the rest counted and told as one when the window ends.
    alarm_window_ms: int = MINUTE
    # PnL: trueup's realised PnL beside the venue's own (execPnl, closedPnl,
    # curRealisedPnl) may differ by this much in the quote currency (rounding of the
    # venue's average entry), plus this percentage of the notional the figure is about.
    pnl_tolerance: Decimal = Decimal("0.01")
    pnl_tolerance_pct: Decimal = Decimal("0.01")
    # A figure (a fill's, a position's, a span's) must disagree this long (input time) before
    # it is told: the time the fills and payments it counts have to come in out of order
    # (the REST re-sync after a reconnect, once the stream is back; three of `trueup run`'s
    # default poll intervals).
    pnl_settle_ms: int = 15 * SECOND
    # Risk (domain/risk.py): a position's score weighs its concentration (notional over
    # the account's equity, taken up to 1), its leverage (over risk_leverage_cap, up to 1)
    # and how near liquidation it is (1 - risk_liquidation_scale x distance, down to 0;
    # risk_no_liquidation_price where the venue shows no liquidation price); capped at 1.
    risk_weight_concentration: Decimal = Decimal("0.4")
    risk_weight_leverage: Decimal = Decimal("0.3")
    risk_weight_liquidation: Decimal = Decimal("0.3")
    risk_leverage_cap: Decimal = Decimal(10)
    risk_liquidation_scale: Decimal = Decimal(10)
    risk_no_liquidation_price: Decimal = Decimal("0.1")
    # RISK_WARNING, once per crossing: a score at or above this, or a distance to
    # liquidation (|mark - liq| / mark) at or below that. The same thresholds count the
    # high-risk and near-liquidation positions of `trueup summary`.
    risk_warning_score: Decimal = Decimal("0.7")
    risk_warning_liquidation_distance: Decimal = Decimal("0.1")
    risk_warnings_enabled: bool = True
    # What a coin that money is counted in is worth in USD (domain/coin_values.py): notionals in
    # different coins are summed (summary by venue, symbol and asset) and set against an
    # account's equity (risk's concentration) at these values. A coin left out has none:
    # what is counted in it is shown apart and its concentration is unknown. Never mutated.
    quote_equivalents: dict[str, Decimal] = field(
        default_factory=lambda: {"USD": Decimal(1), "USDC": Decimal(1), "USDT": Decimal(1)}
    )
    # The entry policy (domain/entry_policy.py), for the accounts named ("venue/account"):
    # an ENTRY not filled within entry_timeout_ms is cancelled and repriced by
    # entry_reprice_bps towards the market, at most entry_max_retries times, then sent as a
    # market order if entry_fallback_market; a partial fill stalled entry_partial_fill_
    # timeout_ms is treated the same for what remains. Opt-in: trueup places these orders.
    entry_policy_accounts: tuple[str, ...] = ()
    entry_timeout_ms: int = 15 * SECOND
    entry_reprice_bps: Decimal = Decimal(5)
    entry_max_retries: int = 2
    entry_fallback_market: bool = True
    entry_partial_fill_timeout_ms: int = 20 * SECOND

    def entry_policy_for(self, venue: str, account: str) -> bool:
        """Whether the entry policy acts on this account's ENTRY orders."""
        return f"{venue}/{account}" in self.entry_policy_accounts


FIELDS: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(RuleConfig))
_PLAIN_DECIMAL = re.compile(r"[0-9]+(?:\.[0-9]+)?")
DEFAULTS = RuleConfig()


def rule_config(values: Mapping[str, object]) -> RuleConfig:
    """The defaults overridden by ``values``, each held to its domain; unknown names and
    values outside their domain are MalformedInput naming the setting."""
    unknown = sorted(set(values) - set(FIELDS))
    if unknown:
        raise MalformedInput(f"unknown settings {unknown}; known: {sorted(FIELDS)}")
    typed: dict[str, object] = {}
    for name, value in values.items():
        try:
            typed[name] = _typed(name, value)
        except _BadValue as error:
            raise MalformedInput(f"{name} must {error}, not {_setting_shown(value)}") from None
    return dataclasses.replace(DEFAULTS, **typed)  # type: ignore[arg-type]


def _setting_shown(value: object) -> str:
    """A setting's value for its error: a list or table as written (cut past 60
    characters), for "list of 1" did not say which entry was wrong."""
    if not isinstance(value, dict | list):
        return shown(value)
    text = repr(value)
    return text if len(text) <= 60 else f"{text[:57]}..."


def rule_values(config: RuleConfig) -> dict[str, object]:
    """Every setting as plain JSON values (the threshold as a decimal string)."""
    values: dict[str, object] = {}
    for name in FIELDS:
        value = getattr(config, name)
        # Written as digits and a point (format "f"), never "1E-8": as they are read.
        if isinstance(value, dict):
            values[name] = {
                k: format(v, "f") if isinstance(v, Decimal) else v for k, v in value.items()
            }
        elif isinstance(value, Decimal):
            values[name] = format(value, "f")
        else:
            values[name] = list(value) if isinstance(value, tuple) else value
    return values


class _BadValue(ValueError):
    """A setting's value outside its domain; the message completes "<name> must ..."."""


def _typed(name: str, value: object) -> object:
    """``value`` as the type of setting ``name``, within its domain."""
    if name == "cooldown_ms_by_exit_reason":
        return _durations_by_reason(value)
    if name == "quote_equivalents":
        return _usd_values(value)
    default = getattr(DEFAULTS, name)
    if isinstance(default, bool):
        return _flag(value)
    if name == "entry_policy_accounts":
        return _accounts(value)
    if isinstance(default, tuple):
        return _exit_reasons(value)
    if name == "entry_max_retries":
        return _count(value)
    if name == "pnl_tolerance":
        return _amount(value)
    if name in _FRACTIONS:
        return _fraction(value)
    if name in _FACTORS:
        return _factor(value)
    if isinstance(default, Decimal):
        return _percentage(value)
    return _duration_ms(value)


_KNOWN_REASONS = [reason.value for reason in ExitReason]
# Settings that are shares of a whole (weights, a score, a distance): from 0 to 1.
_FRACTIONS = frozenset(
    {
        "risk_weight_concentration",
        "risk_weight_leverage",
        "risk_weight_liquidation",
        "risk_no_liquidation_price",
        "risk_warning_score",
        "risk_warning_liquidation_distance",
    }
)
# Settings that divide or multiply: positive, up to a thousand.
_FACTORS = frozenset({"risk_leverage_cap", "risk_liquidation_scale", "entry_reprice_bps"})
MAX_RETRIES = 100
MAX_FACTOR = Decimal(1000)


def _exit_reasons(value: object) -> tuple[str, ...]:
    if not isinstance(value, list | tuple) or not all(v in _KNOWN_REASONS for v in value):
        raise _BadValue(f"be a list of exit reasons from {_KNOWN_REASONS}")
    return tuple(sorted(set(value), key=_KNOWN_REASONS.index))


def _accounts(value: object) -> tuple[str, ...]:
    if not isinstance(value, list | tuple) or not all(
        isinstance(v, str) and v.count("/") >= 1 and all(v.split("/", 1)) for v in value
    ):
        raise _BadValue('be a list of accounts, each "venue/account"')
    return tuple(sorted(set(value)))


def _count(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_RETRIES:
        raise _BadValue(f"be a whole number from 0 to {MAX_RETRIES}")
    return value


def _durations_by_reason(value: object) -> dict[str, int]:
    wanted = f"be an object from exit reasons {_KNOWN_REASONS} to milliseconds"
    if not isinstance(value, Mapping) or not all(r in _KNOWN_REASONS for r in value):
        raise _BadValue(wanted)
    durations = {reason: _duration_ms(value[reason]) for reason in value}
    return {reason: durations[reason] for reason in _KNOWN_REASONS if reason in durations}


def _usd_values(value: object) -> dict[str, Decimal]:
    wanted = (
        "be an object from coins (such as USDT) to their value in USD, "
        f"above 0 and at most {MAX_FACTOR}"
    )
    if not isinstance(value, Mapping) or not all(
        isinstance(coin, str) and coin.isalnum() and coin == coin.upper() for coin in value
    ):
        raise _BadValue(wanted)
    try:
        values = {coin: _factor(value[coin]) for coin in value}
    except _BadValue:
        raise _BadValue(wanted) from None
    return {coin: values[coin] for coin in sorted(values)}


def _flag(value: object) -> bool:
    if not isinstance(value, bool):
        raise _BadValue("be true or false")
    return value


def _amount(value: object) -> Decimal:
    """A non-negative amount of money, as a decimal (a string is read exactly)."""
    number = _decimal(value)
    if not (number.is_finite() and 0 <= number <= MAX_AMOUNT):
        raise _BadValue(f"be an amount from 0 to {MAX_AMOUNT}")
    return number


def _decimal(value: object) -> Decimal:
    # A string is read too, so a setting can be written exactly ("0.35"): as every decimal
    # string trueup reads, digits with at most one point, never "1e-8", "1_000" or " 5 ".
    if isinstance(value, str):
        if not _PLAIN_DECIMAL.fullmatch(value):
            raise _BadValue('be a number; as text, digits with at most one point ("0.35")')
        return Decimal(value)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _BadValue("be a number")
    try:
        return Decimal(str(value))
    except InvalidOperation:
        raise _BadValue("be a number") from None


def _number(value: object) -> Decimal:
    number = _decimal(value)
    if not number.is_finite():
        raise _BadValue("be a finite number")
    return number


def _fraction(value: object) -> Decimal:
    number = _number(value)
    if not 0 <= number <= 1:
        raise _BadValue("be a fraction from 0 to 1")
    return number


def _factor(value: object) -> Decimal:
    number = _number(value)
    if not 0 < number <= MAX_FACTOR:
        raise _BadValue(f"be above 0 and at most {MAX_FACTOR}")
    return number


def _percentage(value: object) -> Decimal:
    number = _decimal(value)
    if not (number.is_finite() and 0 <= number <= MAX_THRESHOLD_PCT):
        raise _BadValue(f"be a percentage from 0 to {MAX_THRESHOLD_PCT}")
    return number


def _duration_ms(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise _BadValue("be a whole number of milliseconds")
    if not 0 <= value <= MAX_DURATION_MS:
        raise _BadValue(f"be from 0 to {MAX_DURATION_MS} milliseconds (a century)")
    return value
