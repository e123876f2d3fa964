"""What a call cost: tokens × the published price, exactly, in Decimal.

Prices come from ``genai-prices`` (maintained by pydantic, with cached
input, reasoning and tiered prices), overridable per model under a
provider's ``prices:`` in trimtab.yaml (fine-tunes, negotiated rates,
self-hosted models). An unknown model is cost unknown (None), logged once
per model, never a crash and never a guessed number: a wrong cost is worse
than a missing one. Every result names the price table that produced it,
so a number can be explained after the table has moved on.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import (
    ROUND_HALF_EVEN,
    Context,
    Decimal,
    DecimalException,
    Inexact,
    InvalidOperation,
    getcontext,
    localcontext,
)
from functools import cache
from typing import TYPE_CHECKING, Any

from trimtab.runtime.config import PriceSpec, ProviderSpec, TieredPriceSpec
from trimtab.runtime.messages import Usage

if TYPE_CHECKING:
    import genai_prices
    from genai_prices.types import ModelPrice, TieredPrices

log = logging.getLogger(__name__)


# genai-prices (and the HTTP client it imports) is loaded on the first call priced, not
# with the runtime: importing it cost more than the rest of `trimtab eval`'s start before
# its first request (bench/evals_vs_promptfoo.py), and a run spends that while its first
# calls are in flight instead.
@cache
def price_table() -> str:
    """The price table's name and version, as each Cost's ``source`` names it."""
    import genai_prices

    return f"genai-prices {genai_prices.__version__}"


def __getattr__(name: str) -> Any:
    if name == "PRICE_TABLE":  # kept as a module constant for callers; loaded on first use
        return price_table()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

MICRO = Decimal(1_000_000)
#: PriceSpec field → genai-prices price key.
_PRICE_KEYS = {"input_mtok": "input_mtok", "output_mtok": "output_mtok",
               "cache_read_mtok": "cache_read_mtok", "cache_write_mtok": "cache_write_mtok",
               "reasoning_mtok": "output_reasoning_mtok"}
_warned: set[tuple[str, str]] = set()
# Models the price table does not have, per lookup: the table is a snapshot, so a miss
# stays a miss, and finding it out again (a search, then an exception) cost more than
# the rest of pricing a call.
_unpriced: set[tuple[tuple, str]] = set()


@dataclass(frozen=True)
class Cost:
    """Exact USD (Decimal) or unknown. ``source`` is the price table and version used."""

    usd: Decimal | None
    input_usd: Decimal | None = None
    output_usd: Decimal | None = None
    source: str | None = None
    priced_as: str | None = None  # the price table's model id
    reason: str | None = None  # why unknown

    @property
    def known(self) -> bool:
        return self.usd is not None

    @property
    def micro_usd(self) -> int | None:
        """Integer micro-dollars, rounded half-to-even (use ``usd`` for exact sums)."""
        if self.usd is None:
            return None
        return int((self.usd * MICRO).to_integral_value(ROUND_HALF_EVEN))

    def to_dict(self) -> dict[str, Any]:
        return {"usd": None if self.usd is None else str(self.usd),
                "micro_usd": self.micro_usd, "source": self.source,
                "priced_as": self.priced_as, "reason": self.reason}


def unknown(reason: str) -> Cost:
    return Cost(usd=None, reason=reason)


def _decimal(value: float) -> Decimal:
    return Decimal(repr(value))  # 0.15, not 0.1499999999999999944488848768742...


def _price_value(value: float | TieredPriceSpec) -> Decimal | TieredPrices:
    from genai_prices.types import Tier, TieredPrices

    if isinstance(value, TieredPriceSpec):
        tiers = [Tier(start=t.start, price=_decimal(t.price)) for t in value.tiers]
        return TieredPrices(base=_decimal(value.base), tiers=tiers)
    return _decimal(value)


def model_price(spec: PriceSpec) -> ModelPrice:
    """A project-file price as the price package's own type, so both price identically."""
    from genai_prices.types import ModelPrice

    return ModelPrice(**{_PRICE_KEYS[field]: _price_value(value)
                         for field, value in spec if value is not None})


def _remembered(cache: dict[int, tuple[Any, Any]], key: Any, make: Callable[[Any], Any],
                limit: int) -> Any:
    """``make(key)``, worked out once per object: keyed by id, with the object held in
    the entry so its id cannot be reused while the entry lives (project-file prices are
    unhashable, and genai-prices' ModelPrice compares by value but does not hash)."""
    known = cache.get(id(key))
    if known is None or known[0] is not key:
        if len(cache) >= limit:
            cache.clear()
        known = cache[id(key)] = (key, make(key))
    return known[1]


#: A project file's prices as ModelPrices, built once per loaded file: a new one per
#: call would also be a new price to fit per call.
_overrides: dict[int, tuple[PriceSpec, ModelPrice]] = {}


# --- pricing a call: genai-prices' own arithmetic, worked out once per price ---------
#
# genai-prices prices a usage by decomposing it over its unit registry, about 70 us
# a call: as much as all the rest of recording one. For a price whose every value is
# a plain Decimal that arithmetic is affine in the five counts trimtab reports
# (leaves are differences of counts, each priced per token, plus any per-request
# fee), so six calls of genai-prices' own calc_price at one-token probes give the
# coefficients, and a call is five multiplications. Both steps run in a context that
# traps any rounding, and counts are capped so that 28 digits always suffice: the
# result is then genai-prices' value exactly. Anything else (tiers, a value type a
# later genai-prices adds, usage outside the plainly valid region, a caller's context
# of lower precision, a rounding trapped) goes through calc_price itself.

_PROBES = ((0, 0, 0, 0, 0), (1, 0, 0, 0, 0), (1, 1, 0, 0, 0), (1, 0, 1, 0, 0),
           (0, 0, 0, 1, 0), (0, 0, 0, 1, 1))
_MAX_COUNT = 10**12  # with prices of up to 12 significant digits, 28 digits are exact
_EXACT = Context(prec=28, rounding=ROUND_HALF_EVEN, traps=[Inexact, InvalidOperation])
_WIDE = Context(prec=100)
Triple = tuple[Decimal, Decimal, Decimal]  # input, output and total USD
#: Each price's (at zero usage, per-count triples), or None where it is priced per call.
_affine: dict[int, tuple[ModelPrice, tuple[Triple, tuple[Triple, ...]] | None]] = {}


def _counts(usage: Usage) -> tuple[int, ...] | None:
    """The counts in trimtab's order, or None outside the region the coefficients hold
    for: whole counts from 0 to _MAX_COUNT, cached reads and writes within input,
    reasoning within output."""
    counts = (usage.input_tokens, usage.cache_read_tokens, usage.cache_write_tokens,
              usage.output_tokens, usage.reasoning_tokens)
    if any(type(n) is not int or not 0 <= n < _MAX_COUNT for n in counts):
        return None
    if counts[1] + counts[2] > counts[0] or counts[4] > counts[3]:
        return None
    return counts


def _probe(price: ModelPrice, counts: tuple[int, ...]) -> Triple:
    """genai-prices' price of one probe usage (counts in _counts' order)."""
    got = price.calc_price(_usage(Usage(
        input_tokens=counts[0], cache_read_tokens=counts[1], cache_write_tokens=counts[2],
        output_tokens=counts[3], reasoning_tokens=counts[4])))
    return got["input_price"], got["output_price"], got["total_price"]


def _fit(price: ModelPrice) -> tuple[Triple, tuple[Triple, ...]] | None:
    """(at zero usage, per input / cached read / cache write / output / reasoning token),
    each an (input, output, total) triple; None where the price is not known affine."""
    if not all(value is None or type(value) is Decimal
               for key, value in vars(price).items() if not key.startswith("_")):
        return None
    try:
        with localcontext(_EXACT):
            zero, inp, read, write, out, reason = (_probe(price, p) for p in _PROBES)

            def less(a: Triple, *others: Triple) -> Triple:
                """A probe's price less the parts the probe shares with cheaper ones."""
                return a[0] - sum(o[0] for o in others), a[1] - sum(o[1] for o in others), \
                    a[2] - sum(o[2] for o in others)

            per_input, per_output = less(inp, zero), less(out, zero)
            return zero, (per_input, less(read, zero, per_input), less(write, zero, per_input),
                          per_output, less(reason, zero, per_output))
    except (ValueError, DecimalException):  # a price the five counts cannot reach, or
        return None                         # one that would round


def _plain(value: Decimal) -> Decimal:
    """Without trailing zeros and never in exponent form (0.0000282, 0.0035, 12), whichever
    path priced it: genai-prices leaves whatever zeros its arithmetic happened to keep."""
    value = value.normalize(_WIDE)
    return value.quantize(Decimal(1)) if value.as_tuple().exponent > 0 else value


def _priced(price: ModelPrice, usage: Usage) -> Triple:
    """(input, output, total) USD: the value ``price.calc_price`` gives, in plain form."""
    # Bounded: the table holds a few thousand prices.
    fitted, counts = _remembered(_affine, price, _fit, 4096), _counts(usage)
    got: Triple | None = None
    if fitted is not None and counts is not None and getcontext().prec >= _EXACT.prec:
        zero, per = fitted
        add, multiply = _EXACT.add, _EXACT.multiply  # its traps, not the caller's context
        try:
            result = list(zero)
            for n, coefficients in zip(counts, per, strict=True):
                if n:
                    for i in range(3):
                        result[i] = add(result[i], multiply(coefficients[i], n))
            got = (result[0], result[1], result[2])
        except DecimalException:
            got = None
    if got is None:
        calc = price.calc_price(_usage(usage))
        got = (calc["input_price"], calc["output_price"], calc["total_price"])
    return _plain(got[0]), _plain(got[1]), _plain(got[2])


def _usage(usage: Usage) -> genai_prices.Usage:
    import genai_prices

    return genai_prices.Usage(
        input_tokens=usage.input_tokens,
        output_tokens=usage.output_tokens,
        cache_read_tokens=usage.cache_read_tokens,
        cache_write_tokens=usage.cache_write_tokens,
        output_reasoning_tokens=usage.reasoning_tokens,
    )


def _table_lookup(provider: ProviderSpec) -> dict[str, str]:
    """How to find the provider in the price table: as ``prices_from`` says, else by URL
    when one is set (a custom URL, e.g. a company proxy's, matches no entry), else by
    kind (a plugin's kind is looked up under its own name, never priced as OpenAI)."""
    if provider.prices_from:
        return {"provider_id": provider.prices_from}
    if provider.kind == "anthropic":
        return {"provider_id": "anthropic"}
    if provider.base_url:
        return {"provider_api_url": provider.base_url}
    return {"provider_id": "openai" if provider.kind in ("openai", "simulated") else provider.kind}


def _table_models(provider: ProviderSpec, models: list[str],
                  price_as: str | None) -> tuple[dict[str, str], list[str]]:
    """Where to look in the price table, and for which model names."""
    if provider.kind == "simulated":  # no price of its own; maybe costed as a real model
        return {}, [price_as] if price_as else []
    return _table_lookup(provider), [provider.price_as.get(m, m) for m in models]


def _table_price(lookup: dict[str, str], model: str) -> Any:
    """The price table's entry for ``model`` (None when it has none), misses remembered."""
    missed = (tuple(lookup.items()), model)
    if missed in _unpriced:
        return None
    from genai_prices import data_snapshot

    try:
        _, info = data_snapshot.get_snapshot().find_provider_model(
            model, None, lookup.get("provider_id"), lookup.get("provider_api_url"))
    except LookupError:
        if len(_unpriced) < 10_000:  # passthrough model names are client-chosen
            _unpriced.add(missed)
        return None
    return info


def _override(provider: ProviderSpec, model: str) -> str | None:
    """The name ``model`` has in the provider's own ``prices:``, if it has one there."""
    for name in (model, provider.price_as.get(model)):
        if name in provider.prices:
            return name
    return None


def priced(model: str, provider: ProviderSpec, *, price_as: str | None = None) -> bool:
    """Whether calls of ``model`` on ``provider`` get a cost (an override or the table)."""
    if _override(provider, model) is not None:
        return True
    lookup, names = _table_models(provider, [model], price_as)
    return any(_table_price(lookup, name) is not None for name in names)


def unpriced_fix(model: str, provider_name: str) -> str:
    """How to give ``model`` on ``provider_name`` a price, in trimtab.yaml terms."""
    return (f"Fix: under providers.{provider_name} in trimtab.yaml, set `prices_from: openai` "
            f"(or the owner of its price table) when it serves that vendor's models, "
            f"`price_as: {{{model}: <a priced model>}}` when {model!r} is a deployment name, or "
            f"`prices: {{{model}: {{input_mtok: ..., output_mtok: ...}}}}`.")


def cost_of(usage: Usage | None, models: str | list[str], provider: ProviderSpec | Mapping,
            *, provider_name: str = "", at: datetime | None = None,
            price_as: str | None = None) -> Cost:
    """The cost of one call.

    ``models`` is the model as reported by the upstream and as requested (the
    first that has a price wins: Azure deployments report the real model).
    ``provider`` is the ProviderSpec or its release-snapshot dict.
    ``price_as`` is a real model a simulated one is costed as (``simulate.price_as``).
    """
    if isinstance(provider, Mapping):
        provider_name = provider_name or str(provider.get("name", ""))
        provider = ProviderSpec.model_validate({k: v for k, v in provider.items() if k != "name"})
    candidates = [m for m in ([models] if isinstance(models, str) else models) if m]
    if usage is None:
        return unknown("the provider reported no usage")
    for model in candidates:
        name = _override(provider, model) if provider.prices else None
        if name is not None:
            try:
                override = _remembered(_overrides, provider.prices[name], model_price, 1024)
                input_usd, output_usd, usd = _priced(override, usage)
            except ValueError as exc:
                return unknown(f"usage cannot be priced: {exc}")
            return Cost(usd=usd, input_usd=input_usd, output_usd=output_usd,
                        source=f"trimtab.yaml providers.{provider_name}.prices", priced_as=name)
    lookup, table_models = _table_models(provider, candidates, price_as)
    for model in table_models:
        # What genai_prices.calc_price does, with the arithmetic above.
        info = _table_price(lookup, model)
        if info is None:
            continue
        try:
            input_usd, output_usd, usd = _priced(info.get_prices(at or datetime.now(UTC)), usage)
        except ValueError as exc:
            return unknown(f"usage cannot be priced: {exc}")
        return Cost(usd=usd, input_usd=input_usd, output_usd=output_usd, source=price_table(),
                    priced_as=info.id)
    model = candidates[0] if candidates else "?"
    if (provider_name, model) not in _warned and len(_warned) < 1000:  # passthrough names
        _warned.add((provider_name, model))                            # are client-chosen
        log.warning("no price for model %r on provider %r: its calls get cost unknown. %s",
                    model, provider_name, unpriced_fix(model, provider_name or "<name>"))
    return unknown(f"no price for model {model!r} ({price_table()}, no override)")
