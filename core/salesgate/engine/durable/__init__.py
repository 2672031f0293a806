"""The durable-rules backend: compiled IR conditions matched by durable-rules 2.0.28.

Everything durable-specific lives in this package, the only place that imports ``durable`` (and
within it only :mod:`.sessions` imports it). Each :class:`~salesgate.policy.stages.Stage` is
translated into durable's JSON dialect once, at construction; :meth:`DurableBackend.match` then
encodes the facts a stage reads into one small JSON message per fact, asserts it, and collects
which rules fired. durable decides every match; Python only computes what durable cannot compute
correctly (arithmetic; ``or`` inside ``any()``/``all()``; rules over durable's size limits) and
hands it over as a derived field.

The modules, each depending only on those above it:

``encoding``
    A fact as durable sees it: typed encoders (numbers as integers scaled by 10^4, dates as day
    numbers, text, booleans), the fields one ruleset's messages hold, and the JSON message itself.
``translate``
    IR conditions into durable's JSON, and the conditions Python computes for durable.
``limits``
    durable's measured limits and how rules are fitted under them: planning, lifting, sharding,
    message checks.
``sessions``
    durable's Host and C functions: registering rulesets, one fresh session per fact set, its
    actions run on the caller's thread, the session deleted.
``backend``
    :class:`DurableBackend`: a policy's stages compiled into rulesets, matched under one lock.

durable-rules has sharp edges, found by probing 2.0.28 and recorded here (this list is the whole
record; each module's docstring names the ones it contains). Each one, how it is contained, and
where, in brackets:

Hazards from the notes
  1. ``durable.lang`` keeps a module-level host and ruleset registry. → Only ``durable.engine.Host``
     is used, one per backend (one per compiled policy version); nothing is module-level. [sessions]
  2. An *event* is consumed by the first rule that fires. → Facts only (``assert_fact``). [sessions]
  3. A ruleset holds at most 1,024 live sessions of 90–200 KB each. → Every fact set gets a fresh
     session id (a counter) and the session is deleted in ``finally``; at most one session per
     ruleset is ever alive. [sessions]
  4. ``MessageNotHandledException`` means "no rule matched". → The C API's result code 1 is read
     as "no match"; the actions of the fact are drained whatever the code. [sessions]
  5. Every Host starts two self-rescheduling timer threads (segfaults when sessions churn).
     → ``Host._run`` is overridden to do nothing; no thread is ever started. [sessions]
  6. The C binding is not thread-safe (process-global tables, no locks; it never releases the
     GIL). → One ``threading.Lock`` per backend serialises every call into its Host, so a
     session's assert/drain/delete sequence is never interleaved with another call's. [backend]
  7. A string compared with a number is compared lexicographically; ``Decimal``/``date`` are not
     JSON. → Every value is encoded by a typed encoder chosen from the IR kind, which rejects a
     value of the wrong type with :class:`~salesgate.errors.EngineError`: numbers (and day counts)
     become integers scaled by 10^4, dates epoch days (``toordinal``), bools JSON booleans, text
     UTF-8 strings. A number that is not a whole number of 10^-4 raises EngineError naming the
     fact. Strings are only ever compared with strings. [encoding]
  8. Unknown field names silently never match; unknown operators give "error code: 202". →
     Every path a rule reads must be in the stage's vocabulary with the same kind; every IR
     operator is mapped explicitly (``translate._DURABLE_OP``), anything else is refused at
     construction. [encoding, translate]
  9. An exception raised in an action is swallowed by durable. → Actions are wrapped: the
     exception is captured, the session is drained and deleted, then the caller gets EngineError.
     [sessions, backend]
 10. 512 rules break every assert (303), 513 hang ``register_rulesets``. → See 25 below: the real
     limit is the alpha stack; stages are sharded into rulesets well below it (and never more
     than ``limits.MAX_RULES_PER_RULESET`` rules). [limits]
 11. More than 255 properties in one message: error 302. → A message holds only the fields the
     ruleset's rules read; the count is known at construction, and a ruleset that would exceed
     ``limits.MAX_MESSAGE_PROPERTIES`` is split in halves until each fits, a single rule that
     still does not is lifted (one 0/1 field): it can never happen while deciding, and a policy
     that validates always loads. [limits, backend]
 12. Ruleset names containing ``$state``/``$flow`` become statecharts. → ``$`` is refused in stage
     names and rule ids; durable's own rule and action names are generated (``r17``). [backend,
     sessions]
 13. No API replaces a ruleset; deleting one with live sessions leaks. → A new policy means a new
     backend; :meth:`DurableBackend.close` deletes the rulesets when no session is alive. [backend]
 14. Statecharts keep state in memory only. → Not used.
 15. durable fails to import on Python 3.13. → ``requires-python`` in pyproject.toml.
 16. Money is compared and added in binary doubles (a sum equal to a limit lands above it). →
     durable only ever sees integers; arithmetic (``Arith``) is computed exactly in Python with
     ``Decimal`` (the evaluator's own :func:`salesgate.policy.ir.arith`), and durable
     compares ``sign(left - right)`` with 0. [encoding, translate]
 17. In an ``assert_facts`` batch, one unmatched fact hides the actions of the others. → One fact
     per ``assert_fact``; the actions are drained after every assert, whatever its result code.
     [sessions]
 18. An action with two parameters is treated as asynchronous. → Actions take one parameter.
     [sessions]
 19. Two threads on one session id give wrong decisions; actions may run on the timer thread. →
     Unique session ids, the per-backend lock, no timer threads; the actions are run by this
     package's own drain loop on the caller's thread. [sessions, backend]
 20. The documented Host API costs ~180 µs per order. → Matching calls the C functions the Host
     uses (``assert_fact``, ``start_action_for_state``, ``complete_and_start_action``,
     ``delete_state``) directly; the fired rule is read from the action name, so the echoed
     facts are never parsed. [sessions]

Hazards found while writing this backend (durable-rules 2.0.28, reproduced here)
 21. ``delete_state`` on a session in which no action has ever run frees uninitialised pointers:
     ``free(): invalid pointer`` or a segfault, depending on the heap. It happens whenever the
     first fact of a session matches nothing. → Every ruleset has a sentinel rule on the
     session's state fact (``{"$s": 1}``), so every session runs at least one action before it
     is deleted; after a failed assert an empty "opener" fact is asserted first so that the
     sentinel runs even then. [sessions]
 22. A top-level comparison with a ``{"$m": field}`` reference whose field is missing is *true*
     for every operator (``x < $m.y`` and ``x > $m.y`` both fire). → Both sides of a
     fact-to-fact comparison are guarded with ``$ex``. (Inside ``$iany``/``$iall`` a missing
     field, on either side, gives false, and a comparison with a constant on a missing field is
     false for every operator, as the IR wants.) [translate]
 23. ``$iall`` over an empty or missing array is false. → ``all`` is encoded as
     ``count == 0 or $iall``, with the element count sent as a field. [translate]
 24. Message properties are identified by the 32-bit FNV-1 hash of their name only: two names
     with the same hash are the same field (``f6059`` and ``f264602`` are). → The names of every
     message are checked for hash collisions at construction. [limits]
 25. The alpha-network stack holds 64 nodes: when more than 64 alternatives match one fact at
     once, assert fails with error 303, so a table of 65 thresholds on one field fails exactly
     on the orders that pass them all (the notes' "512 rules" is this limit reached another
     way). → Rules are packed into rulesets whose alternatives plus longest alternative stay
     within ``limits.ALTERNATIVE_BUDGET``, which bounds the stack statically. [limits]
 26. ``$or`` is expanded into alternatives (disjunctive normal form): ``and`` of eight two-way
     ``or`` is 256 alternatives, the rule fires once per matching alternative, and more than 512
     alternatives hang the process. → Alternatives are counted per rule; a rule over the budget
     is *lifted* (below). Matches are a set, so repeated firing is harmless. [limits]
 27. Sessions are looked up by a 32-bit hash of the session id, message ids likewise. → Only one
     session per ruleset is alive at a time; a message id seen twice ("observed", code 2) is an
     EngineError; if a session cannot be deleted the backend refuses all further work. [sessions]
 28. More than 512 comparisons inside one ``$iany``/``$iall`` (error 106) → lifted; any other
     error durable raises while creating a ruleset becomes an EngineError naming the rule.
     [limits, sessions]
 29. ``true`` equals the integer 1. → Bools are only ever encoded from ``bool`` values. [encoding]
 30. A rule with more than 15 ``$and``/``$or`` groups, nested ones included, cannot be created
     (error 113). → Nested groups of the same kind are merged; a rule still over the limit is
     lifted. [translate, limits]
 31. ``$or`` inside ``$iany``/``$iall`` gives wrong answers when its branches read different
     element fields (``any(d < 5 or s < 0)`` is false for ``[{"d": 1, "s": 10}]``; about one
     random case in nine). ``$and`` inside them is right. → ``any(a or b)`` is sent as
     ``any(a) or any(b)``; any other ``or`` inside ``any()``/``all()`` is computed per element
     by the Python evaluator and sent as a 0/1 element field. [translate]

*Lifting*: a rule over one of durable's per-rule limits (25/26, 28, 30) is not refused. Its whole
condition is computed by the Python evaluator's own compiled closure
(:func:`salesgate.policy.evaluator.compile_cond`, so the semantics are identical by construction)
and durable matches the 0/1 result. :meth:`DurableBackend.lifted` lists such rules.
"""

from .backend import DurableBackend

__all__ = ["DurableBackend"]
