"""Rule text can only ever be data in the code the compiled backend generates (salesgate/policy/codegen.py),
and generated code that was tampered with is refused before anything compiles it.

The generated source holds no literal but None, True and False, and no name but generated ones and a fixed
set of helpers: rule ids, texts, fact paths and every other value are objects bound to generated names.
"""

from __future__ import annotations

import ast
import dataclasses
import functools
import io
import keyword
import tokenize
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import salesgate.policy.codegen as codegen
from salesgate import load_policy, seed_policy_path
from salesgate.engine.compiled import CompiledBackend
from salesgate.engine.python import PythonBackend
from salesgate.facts import FactSet
from salesgate.policy.codegen import GeneratedCodeRefused, check, compile_stages, generate_stage
from salesgate.policy.ir import And, Compare, Const, IsNone, Kind, Or, Quantified, Ref
from salesgate.policy.stages import EngineRule, Stage
from salesgate.vocabulary import VOCABULARY

VOCAB = VOCABULARY["order_approval"]
HOSTILE = ["__import__('os').system('id')", '"""', "'''", "'", '"', "\\", "\n", "\r\n", "\t", "#", "\\N{BULLET}",
           ")); import os; ((", "k0", "root", "fired", "stage_0", "lambda: 0", "{0}", "%s", "华东\u2028机电",
           "\u202e", "x\\\n", "eval(\"1\")", "exec", "__builtins__", " "]
hostile_text = st.one_of(st.sampled_from(HOSTILE),
                         st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
                                 min_size=1, max_size=30))
FIXED = {"root", "items", "item", "fired", "arith", "any", "all", "enumerate", "ranged", "get", "append"}


def _only_generated_tokens(source: str) -> None:
    """Every token of ``source`` is a keyword, a generated or fixed name, or punctuation: no string, no number,
    no comment; nothing a policy wrote."""
    assert not set(source) & set("'\"\\#"), source
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        assert token.type in (tokenize.NAME, tokenize.OP, tokenize.NEWLINE, tokenize.NL, tokenize.INDENT,
                              tokenize.DEDENT, tokenize.ENDMARKER), token
        if token.type == tokenize.NAME:
            assert (keyword.iskeyword(token.string) or token.string in FIXED
                    or codegen._GENERATED_NAME.match(token.string)), token


@settings(max_examples=150, deadline=None)
@given(ids=st.lists(hostile_text, min_size=3, max_size=3, unique=True), path=hostile_text, value=hostile_text,
       listed=st.lists(hostile_text, min_size=8, max_size=12, unique=True), scope=st.sampled_from(["order", "line"]))
def test_hostile_rule_text_is_only_ever_data(ids: list[str], path: str, value: str, listed: list[str],
                                            scope: Any) -> None:
    ref = Ref(path, Kind.text)
    rules = (
        EngineRule(ids[0], 0, scope, Compare("==", ref, Const(value, Kind.text))),
        EngineRule(ids[1], 1, scope, Or(tuple(Compare("==", ref, Const(v, Kind.text)) for v in listed))),
        EngineRule(ids[2], 2, scope, And((IsNone(Ref(value, Kind.number), False),
                                          Quantified("any", "lines:" + path,
                                                     Compare("!=", Ref(value, Kind.text, True),
                                                             Const(path, Kind.text)))))),
    )
    stage = Stage(path, rules, VOCAB)
    for index in (False, True):
        compiled = compile_stages([stage], index=index, index_from=1)
        assert compiled.fallbacks == ()
        _only_generated_tokens(compiled.sources[path])
        root: dict[str, Any] = {path: value, "lines:" + path: [{value: path}, {value: ids[1]}]}
        facts = FactSet(root, (root,) if scope == "line" else (), (1,) if scope == "line" else ())
        expected = PythonBackend([stage]).match(path, facts)
        assert frozenset(compiled.functions[path](facts.root, facts.items)) == expected
        assert (ids[0], 0 if scope == "line" else None) in expected


# -- tampered generated code is refused ----------------------------------------------------------------

@functools.cache
def _seed_stages() -> dict[str, Stage]:
    return {s.name: s for s in load_policy(seed_policy_path()).stages()}


def _seed_stage() -> Any:
    return generate_stage(_seed_stages()["order_approval"], 0)


TAMPERED = {
    "an import": lambda s: "import os\n" + s,
    "an import inside the function": lambda s: s.replace("    fired = []", "    import os\n    fired = []"),
    "a dunder attribute": lambda s: s.replace("    fired = []", "    fired = root.__class__"),
    "an attribute of a call": lambda s: s.replace("    fired = []", "    fired = []\n    k0.get(k1).get(k2)"),
    "a call to open": lambda s: s.replace("    fired = []", "    fired = []\n    open(k0)"),
    "a string literal": lambda s: s.replace("    fired = []", "    fired = []\n    fired.append('rm -rf')"),
    "a number literal": lambda s: s.replace("    fired = []", "    fired = []\n    fired.append(1)"),
    "__import__": lambda s: s.replace("    fired = []", "    fired = []\n    __import__(k0)"),
    "exec": lambda s: s.replace("    fired = []", "    fired = []\n    exec(k0)"),
    "a lambda": lambda s: s.replace("    fired = []", "    fired = []\n    v0 = lambda: k0"),
    "a list comprehension": lambda s: s.replace("    fired = []", "    fired = [v for v in items]"),
    "a list with elements": lambda s: s.replace("    fired = []", "    fired = [k0]"),
    "keyword arguments": lambda s: s.replace("    fired = []", "    fired = []\n    fired.append(k0, x=k1)"),
    "a default argument": lambda s: s.replace("(root, items):", "(root, items=k0):"),
    "a decorator": lambda s: s.replace("def stage_0", "@k0\ndef stage_0"),
    "a function of another name": lambda s: s + "\ndef evil(root):\n    return root\n",
    "a global": lambda s: s.replace("    fired = []", "    global k0\n    fired = []"),
    "a while loop": lambda s: s.replace("    fired = []", "    fired = []\n    while True:\n        pass"),
    "a try": lambda s: s.replace("    fired = []", "    try:\n        fired = []\n    except:\n        pass"),
    "a with": lambda s: s.replace("    fired = []", "    with k0:\n        fired = []"),
    "a write through a subscript": lambda s: s.replace("    fired = []", "    fired = []\n    k0[k1] = k2"),
    "a write to an attribute": lambda s: s.replace("    fired = []", "    fired = []\n    k0.get = k2"),
    "a loop writing an attribute": lambda s: s.replace("    fired = []", "    fired = []\n    for k0.get in items:\n"
                                                                       "        pass"),
    "a module-level statement": lambda s: s + "\nk0 = root\n",
    "an unknown parameter": lambda s: s.replace("(root, items):", "(root, items, os):"),
    "a subscript call of an expression": lambda s: s.replace("    fired = []",
                                                             "    fired = []\n    k0[k1.get(k2)](k3)"),
}


@pytest.mark.parametrize("tamper", sorted(TAMPERED))
def test_tampered_generated_code_is_refused_by_the_whitelist(tamper: str) -> None:
    generated = _seed_stage()
    source = TAMPERED[tamper](generated.source)
    assert source != generated.source
    names = frozenset(generated.constants) | generated.defined
    with pytest.raises(GeneratedCodeRefused):
        check(ast.parse(source), names)
    with pytest.raises(GeneratedCodeRefused):
        dataclasses.replace(generated, source=source).build()


def test_the_untampered_code_passes_the_whitelist() -> None:
    generated = _seed_stage()
    check(ast.parse(generated.source), frozenset(generated.constants) | generated.defined)
    _only_generated_tokens(generated.source)


def test_a_refused_stage_falls_back_to_the_evaluator_and_says_so(monkeypatch: pytest.MonkeyPatch,
                                                                 caplog: pytest.LogCaptureFixture) -> None:
    real = codegen.generate_stage

    def tampered(stage: Stage, number: int, **kwargs: Any) -> Any:
        generated = real(stage, number, **kwargs)
        if stage.name != "order_approval":
            return generated
        return dataclasses.replace(generated, source="import os\n" + generated.source)

    monkeypatch.setattr(codegen, "generate_stage", tampered)
    stages = load_policy(seed_policy_path()).stages()
    backend = CompiledBackend(stages)
    fallen = {f.rule for f in backend.fallbacks}
    assert fallen == {r.id for s in stages if s.name == "order_approval" for r in s.rules}
    assert all("refused: node Import is not allowed" in f.reason for f in backend.fallbacks)
    assert "runs stage order_approval on the evaluator" in caplog.text
    root = {"order.total": 150000, "customer.status": "blocked", "order.lines": []}
    facts = FactSet(root)
    assert backend.match("order_approval", facts) == PythonBackend(stages).match("order_approval", facts)
    assert ("large-order", None) in backend.match("order_approval", facts)


def test_generated_code_runs_without_builtins() -> None:
    """Defence in depth: were a name to slip past the whitelist, no builtin (open, __import__) is there."""
    function = _seed_stage().build()
    assert function.__globals__["__builtins__"] == {}
