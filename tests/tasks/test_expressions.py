"""The one expression grammar (tasks.expressions) and its three callers: view values, linear views
and linear constraints."""

import math

import pytest

from tasks.expressions import (
    CONSTRAINT_SYNTAX,
    EXPRESSION_SYNTAX,
    Binary,
    ExpressionError,
    Name,
    Number,
    Syntax,
    Unary,
    evaluate,
    free_names,
    linear_form,
    parse,
    parse_comparison,
    tokenize,
)
from tasks.optimization import Sense, parse_constraint
from tasks.views import parse_expression, parse_linear


# ---- tokens ------------------------------------------------------------------------------------
def test_tokenize_kinds_and_positions():
    toks = tokenize("2*SPX - (Bond/.5e1)")
    assert [(t.kind, t.text) for t in toks] == [
        ("num", "2"), ("op", "*"), ("name", "SPX"), ("op", "-"), ("op", "("), ("name", "Bond"),
        ("op", "/"), ("num", ".5e1"), ("op", ")")]
    assert [t.pos for t in toks][:4] == [0, 1, 2, 6]
    assert tokenize("   ") == []


def test_tokenize_constraint_syntax():
    toks = tokenize("'SPX 4000 C' + A.b ≥ 1", CONSTRAINT_SYNTAX)
    assert [(t.kind, t.text) for t in toks] == [
        ("name", "SPX 4000 C"), ("op", "+"), ("name", "A.b"), ("cmp", "≥"), ("num", "1")]


@pytest.mark.parametrize("text, syntax, char", [
    ("A.b", EXPRESSION_SYNTAX, "."),
    ("'A'", EXPRESSION_SYNTAX, "'"),
    ("A <= 1", EXPRESSION_SYNTAX, "<"),
    ("A; B", CONSTRAINT_SYNTAX, ";"),
    ("A < 1", CONSTRAINT_SYNTAX, "<"),
    ("'open >= 1", CONSTRAINT_SYNTAX, "'"),
])
def test_tokenize_rejects_characters(text, syntax, char):
    with pytest.raises(ExpressionError, match=f"unexpected character {char!r} at position"):
        tokenize(text, syntax)


def test_tokenize_rejects_empty_quoted_name_and_non_strings():
    with pytest.raises(ExpressionError, match="empty quoted name"):
        tokenize("' ' >= 1", CONSTRAINT_SYNTAX)
    with pytest.raises(TypeError):
        tokenize(1.5)  # type: ignore[arg-type]


# ---- grammar -----------------------------------------------------------------------------------
@pytest.mark.parametrize("text, expected", [
    ("1 + 2 * 3", 7.0),                 # * binds tighter than +
    ("(1 + 2) * 3", 9.0),
    ("2 - 3 - 4", -5.0),                # left associative
    ("8 / 4 / 2", 1.0),
    ("-2 * -3", 6.0),                   # unary minus binds tightest
    ("--2", 2.0),
    ("+-+2", -2.0),
    ("1.5e-2 + .5", 0.515),
    ("1. + 2E1", 21.0),
    ("  ((7))  ", 7.0),
])
def test_precedence_and_associativity(text, expected):
    assert parse(text).evaluate({}) == pytest.approx(expected, abs=1e-15)


def test_tree_shape():
    tree = parse("a - 2 * -b / c + 1").tree
    assert tree == Binary("+", Binary("-", Name("a"), Binary("/", Binary("*", Number(2.0, "2"), Unary("-", Name("b"))),
                                                             Name("c"))), Number(1.0, "1"))


def test_free_names_in_order_of_first_appearance():
    expr = parse("b * 2 + a - b / (c + a)")
    assert free_names(expr.tree) == ("b", "a", "c")
    assert expr.names == frozenset({"a", "b", "c"})


def test_evaluate():
    expr = parse("prior - 0.5*prior_vol")
    assert expr.evaluate({"prior": 0.1, "prior_vol": 0.2}) == 0.1 - 0.5 * 0.2
    with pytest.raises(KeyError):
        expr.evaluate({"prior": 0.1})
    with pytest.raises(ZeroDivisionError):
        evaluate(parse("1 / (prior - prior)").tree, {"prior": 1.0})
    assert evaluate(parse("1e999").tree, {}) == math.inf   # numbers are not range-checked here


@pytest.mark.parametrize("text, reason", [
    ("", "empty expression"),
    ("   ", "empty expression"),
    ("prior *", "expression ends too early"),
    ("(prior", "missing ')'"),
    ("prior)", "unexpected ')'"),
    ("prior ** 2", "unexpected '*'"),
    ("prior prior", "unexpected 'prior'"),
    ("2prior", "unexpected 'prior'"),
    ("1 2", "unexpected '2'"),
    ("()", "unexpected ')'"),
])
def test_syntax_errors(text, reason):
    with pytest.raises(ExpressionError) as err:
        parse(text)
    assert err.value.reason == reason and err.value.text == text
    assert str(err.value) == f"cannot parse {text!r}: {reason}"
    assert isinstance(err.value, ValueError)


# ---- comparisons -------------------------------------------------------------------------------
@pytest.mark.parametrize("cmp, canonical", [
    ("<=", "<="), ("≤", "<="), (">=", ">="), ("≥", ">="), ("==", "=="), ("=", "=="),
])
def test_comparators(cmp, canonical):
    c = parse_comparison(f"A {cmp} 1")
    assert c.op == canonical and c.left == Name("A") and c.right == Number(1.0, "1")


def test_comparison_accepts_any_syntax():
    assert parse_comparison("A <= 1", EXPRESSION_SYNTAX).op == "<="
    with pytest.raises(ExpressionError, match="unexpected character '.'"):
        parse_comparison("A.b <= 1", Syntax())


@pytest.mark.parametrize("text, reason", [
    ("A", "need exactly one of <=, >=, == (found 0)"),
    ("A >= 1 >= 0", "need exactly one of <=, >=, == (found 2)"),
    ("A >= ", "empty side of the comparison"),
    (">= 1", "empty side of the comparison"),
    ("A + >= 1", "expression ends too early"),
    ("A B >= 1", "unexpected 'B'"),
])
def test_comparison_errors(text, reason):
    with pytest.raises(ExpressionError) as err:
        parse_comparison(text)
    assert err.value.reason == reason


def test_comparison_in_an_expression_is_unexpected():
    with pytest.raises(ExpressionError, match="unexpected '<='"):
        parse("A <= 1", CONSTRAINT_SYNTAX)


# ---- linear form -------------------------------------------------------------------------------
@pytest.mark.parametrize("text, coefs, constant", [
    ("2*SPX - Bond/2 + SPX", {"SPX": 3.0, "Bond": -0.5}, 0.0),
    ("-(A - 2*B) * 3", {"A": -3.0, "B": 6.0}, 0.0),
    ("0.5*(A - B) + 1", {"A": 0.5, "B": -0.5}, 1.0),
    ("A + B - A", {"A": 0.0, "B": 1.0}, 0.0),       # a cancelled name keeps a zero
    ("(1 + 2) * A / 4 - 3", {"A": 0.75}, -3.0),
    ("2 * 3", {}, 6.0),
])
def test_linear_form(text, coefs, constant):
    form = parse(text).linear()
    assert form.coefs == coefs and list(form.coefs) == list(coefs) and form.constant == constant


@pytest.mark.parametrize("text, reason", [
    ("A * B", "product of two names is not linear"),
    ("(A + 1) * (2 - B)", "product of two names is not linear"),
    ("1 / A", "division by a name is not linear"),
    ("A / (B - B)", "division by a name is not linear"),
    ("A / (1 - 1)", "division by zero"),
])
def test_linear_form_rejects(text, reason):
    with pytest.raises(ExpressionError) as err:
        parse(text).linear()
    assert err.value.reason == reason and err.value.text == text


def test_linear_form_finite_numbers():
    tree = parse("1e999 * A").tree
    assert linear_form(tree).coefs == {"A": math.inf}
    with pytest.raises(ExpressionError, match="number 1e999 is not finite"):
        linear_form(tree, "1e999 * A", finite=True)
    # the first offending term in reading order is reported
    with pytest.raises(ExpressionError, match="product of two names"):
        linear_form(parse("A * B + 1e999").tree, finite=True)


@pytest.mark.parametrize("text", ["A + 2*B - 0.5", "-(A - B)/3 + 0.25*C", "(A + 1) * 4 - B / 8"])
def test_evaluate_agrees_with_linear_form(text):
    expr = parse(text)
    env = {"A": 0.3, "B": -1.7, "C": 2.5}
    coefs, const = expr.linear()
    assert expr.evaluate(env) == pytest.approx(sum(w * env[n] for n, w in coefs.items()) + const, abs=1e-14)


# ---- the three callers agree -------------------------------------------------------------------
AGREE = [
    "2*SPX - Bond",
    "2*SPX - Bond/2 + SPX",
    "-(A - 2*B) * 3",
    "0.1*A + 0.2*B + 0.3*C",
    "(A + B) / 3 - C * 1e-3",
    "+A - -B",
]


@pytest.mark.parametrize("text", AGREE)
def test_callers_agree_on_coefficients(text):
    views = parse_linear(text)
    values = parse_expression(text).linear().coefs
    con = parse_constraint(f"{text} == 0")
    assert list(views) == list(values) == list(con.coefs)
    for name in views:                        # bit-identical floats
        assert views[name].hex() == values[name].hex() == con.coefs[name].hex()
    assert con.sense is Sense.EQ and con.rhs == 0.0


@pytest.mark.parametrize("text", AGREE)
def test_constraint_moves_constants_right(text):
    con = parse_constraint(f"{text} + 1.5 <= 2 - X")
    coefs = dict(parse_linear(text))
    coefs["X"] = 1.0
    assert dict(con.coefs) == coefs and con.sense is Sense.LE and con.rhs == 2.0 - 1.5


def test_callers_agree_on_rejections():
    for text in ("A * B", "A / B"):
        with pytest.raises(ValueError, match="not linear"):
            parse_linear(text)
        with pytest.raises(ValueError, match="not linear"):
            parse_constraint(f"{text} <= 1")
    with pytest.raises(ValueError, match="unknown name"):
        parse_expression("prior * y", ["prior", "prior_mean", "prior_vol"])


def test_syntax_differs_only_in_names():
    # constraints accept dotted and quoted names; views do not
    assert dict(parse_constraint("A.b + 'c d' >= 0").coefs) == {"A.b": 1.0, "c d": 1.0}
    for text in ("A.b + C", "'c d' + C"):
        with pytest.raises(ExpressionError, match="unexpected character"):
            parse_linear(text)
