"""Flat-rate instruments in different currencies get separate rho keys (issue 12, item 16)."""

import copy

from pipeline.config import parse_config
from pipeline.resolve import build_plan


def _with_currencies(case_dict: dict, currencies: list[str | None]) -> dict:
    d = copy.deepcopy(case_dict)
    options = [i for i in d["instruments"] if i["kind"] == "option" and not i.get("curve")]
    for inst, cur in zip(options, currencies):
        if cur is not None:
            inst["currency"] = cur
    return d


def test_rho_is_keyed_by_currency_and_unset_keys_leave_the_hash(case_dict, tmp_path):
    base = parse_config(copy.deepcopy(case_dict), base_dir=str(tmp_path))
    same = parse_config(_with_currencies(case_dict, [None, None]), base_dir=str(tmp_path))
    assert base.canonical() == same.canonical()  # an unset currency is not part of the config (or its hash)
    d = _with_currencies(case_dict, ["USD", "EUR"])
    plan = build_plan(parse_config(d, base_dir=str(tmp_path)))
    rho = {u for g, u in plan.book.greek_keys if g == "rho"}
    assert {"USD", "EUR"} <= rho
    j_usd, j_eur = plan.book.greek_keys.index(("rho", "USD")), plan.book.greek_keys.index(("rho", "EUR"))
    names = [i["name"] for i in d["instruments"]]
    usd = names.index(next(i["name"] for i in d["instruments"] if i.get("currency") == "USD"))
    eur = names.index(next(i["name"] for i in d["instruments"] if i.get("currency") == "EUR"))
    G = plan.book.greeks
    assert G[usd, j_usd] != 0 and G[usd, j_eur] == 0
    assert G[eur, j_eur] != 0 and G[eur, j_usd] == 0
