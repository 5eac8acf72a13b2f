"""The compiler: pilang datums -> Python AST -> code objects.

Each top-level form is compiled once, before it runs, into a Python function whose AST nodes
carry the pilang source positions, so CPython runs pilang at near-Python speed and a traceback
names the pilang file, line and column of every frame. Design points:
- pilang lambdas are Python functions; lexical variables are Python locals (named "x 1", with a
  space no pilang symbol has, so they never collide with globals) and closures are Python's.
- the global environment is the code's globals dict: a global reference is a LOAD_GLOBAL.
- tail calls return a TailCall that the nearest non-tail caller bounces; a self tail call
  becomes a loop. Python stack stays constant for any chain of tail calls.
- a few core primitives (+ - * / < = car cdr cons ...) are inlined as Python operators; they
  cannot be redefined globally, only shadowed lexically, so inlining never changes meaning.
"""
from __future__ import annotations

import ast
import warnings
from collections.abc import Callable
from types import CodeType
from typing import Any

from .datum import Keyword, Pair, Span, Symbol, from_iter
from .errors import PILANG_FILES, PilangError
from .runtime import Macro, call

S = Symbol
VALUE, EFFECT, TAIL = 0, 1, 2
PY_RESERVED = {"None", "True", "False", "__debug__", "__class__"}
Stmts = list[ast.stmt]


# what each special form does, for a person (help, completion): one entry per form in Compiler.specials
# (quasiquote's unquote and unquote-splicing are parts of it, not forms of their own)
SPECIAL_DOCS = {
    "quote": "(quote datum) or 'datum: the datum itself, unevaluated.",
    "quasiquote": "`template: the template with ,x evaluated and ,@xs spliced in.",
    "if": "(if test then [else]): then when test is true (anything but #f and nil), else otherwise.",
    "define": "(define name value) or (define (name params...) body...): bind a name (globally at top level).",
    "set!": "(set! name value): change an existing binding.",
    "lambda": "(lambda (params...) body...): a procedure; (a . rest) or [a & rest] take rest arguments.",
    "fn": "(fn (params...) body...): the same as lambda.",
    "let": "(let ((name value) ...) body...) binds in parallel; (let loop ((i 0)) ...) is a named loop.",
    "let*": "(let* ((name value) ...) body...): bind in order, each seeing the previous.",
    "letrec": "(letrec ((name value) ...) body...): mutually recursive bindings.",
    "begin": "(begin form...): evaluate in order, yield the last.",
    "and": "(and x...): the first false value, else the last value (#t for none).",
    "or": "(or x...): the first true value, else #f.",
    "defmacro": "(defmacro name (params...) body...): a macro from argument datums to a new form.",
    "try": "(try body... (catch e handler...) (finally cleanup...)): handle errors raised in body.",
    "load": '(load "file.pil"): evaluate a file (relative to the file that says it).',
}


class Var:
    """A lexical variable: its Python name, and the function that owns it."""

    __slots__ = ("py", "fn")

    def __init__(self, py: str, fn: Fn) -> None:
        self.py, self.fn = py, fn


class Fn:
    """A Python function being generated for one pilang lambda (or the top-level form)."""

    def __init__(self, parent: Fn | None, allow_loop: bool = True) -> None:
        self.parent, self.allow_loop = parent, allow_loop
        self.counter = 0
        self.nonlocals: set[str] = set()
        self.captured = False  # an inner function refers to one of our locals
        self.loop_used = False
        self.params: list[Var] = []
        self.rest: Var | None = None
        # The name this lambda calls itself by (define, letrec, named let): the variable it is
        # bound to (None for a global) and the enclosing def that holds the function object.
        self.self_sym: Symbol | None = None
        self.self_var: Var | None = None
        self.self_ref: str | None = None

    def fresh(self, base: str) -> str:
        """A Python local name unique in this function; pilang names can't contain the space."""
        self.counter += 1
        return f"{base.replace(' ', '_')} {self.counter}"


class Scope:
    """One block of lexical bindings (lambda parameters, a let) inside a function."""

    __slots__ = ("vars", "parent", "fn")

    def __init__(self, fn: Fn, parent: Scope | None) -> None:
        self.vars: dict[Symbol, Var] = {}
        self.parent, self.fn = parent, fn

    def bind(self, sym: Symbol) -> Var:
        var = Var(self.fn.fresh(sym.name), self.fn)
        self.vars[sym] = var
        return var

    def lookup(self, sym: Symbol) -> Var | None:
        s: Scope | None = self
        while s is not None:
            v = s.vars.get(sym)
            if v is not None:
                return v
            s = s.parent
        return None


class Unit:
    """One compilation: the file its code claims, and the constants its code refers to."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.consts: list[Any] = []
        self.const_ids: dict[int, int] = {}
        self.names: dict[str, str] = {}  # Python def name -> pilang procedure name

    def const(self, value: Any) -> ast.expr:
        idx = self.const_ids.get(id(value))
        if idx is None:
            idx = len(self.consts)
            self.consts.append(value)
            self.const_ids[id(value)] = idx
        return ast.Name(f" k{idx}", ast.Load())


def _rename(code: CodeType, names: dict[str, str]) -> CodeType:
    """Give every compiled procedure its pilang name, which error messages and stacks show."""
    consts = tuple(_rename(c, names) if isinstance(c, CodeType) else c for c in code.co_consts)
    name = names.get(code.co_name, code.co_name)
    return code.replace(co_consts=consts, co_name=name, co_qualname=name)


def _loc(node: Any, span: Span) -> Any:
    node.lineno, node.col_offset = span.line, span.col - 1
    node.end_lineno, node.end_col_offset = span.end_line, max(span.end_col - 1, 0)
    if (node.end_lineno, node.end_col_offset) < (node.lineno, node.col_offset):
        node.end_lineno, node.end_col_offset = node.lineno, node.col_offset
    return node


def _name(py: str, store: bool = False) -> ast.Name:
    return ast.Name(py, ast.Store() if store else ast.Load())


def _call(fn: str, *args: ast.expr) -> ast.Call:
    return ast.Call(_name(fn), list(args), [])


def _const(v: Any) -> ast.Constant:
    return ast.Constant(v)


def _is_simple(e: ast.expr) -> bool:
    return isinstance(e, (ast.Name, ast.Constant))


def _falsy(e: ast.expr, tmp: str) -> ast.expr:
    """Python test for pilang falsity (#f or nil) of `e`, evaluating it once."""
    if isinstance(e, ast.Constant):
        return _const(e.value is False or e.value is None)
    if not _is_simple(e):
        e = ast.NamedExpr(_name(tmp, True), e)
        again: ast.expr = _name(tmp)
    else:
        again = e
    return ast.BoolOp(ast.Or(), [ast.Compare(e, [ast.Is()], [_const(False)]),
                                 ast.Compare(again, [ast.Is()], [_const(None)])])


def _truthy(e: ast.expr, tmp: str, is_bool: bool) -> ast.expr:
    """Python test for pilang truth of `e`: everything but #f and nil is true."""
    if is_bool:
        return e
    return ast.UnaryOp(ast.Not(), _falsy(e, tmp))


def _bool_expr(e: ast.expr) -> bool:
    """Whether `e` always yields a Python bool (comparisons, `not`, identity tests)."""
    return (isinstance(e, ast.Compare) or (isinstance(e, ast.UnaryOp) and isinstance(e.op, ast.Not))
            or (isinstance(e, ast.Constant) and isinstance(e.value, bool))
            or (isinstance(e, ast.BoolOp) and all(_bool_expr(v) for v in e.values)))


QUOTE, QUASIQUOTE, UNQUOTE, UNQUOTE_SPLICING = S("quote"), S("quasiquote"), S("unquote"), S("unquote-splicing")
IF, DEFINE, SET, LAMBDA, FN, LET, LETSTAR, LETREC = (S(n) for n in ("if", "define", "set!", "lambda", "fn", "let", "let*", "letrec"))
BEGIN, AND, OR, DEFMACRO, TRY, CATCH, FINALLY, LOAD = (S(n) for n in ("begin", "and", "or", "defmacro", "try", "catch", "finally", "load"))
DOT_REST = S("&")

# Helpers that compiled code finds in the global environment, under names no pilang symbol reads as.
HELPER_TC, HELPER_BOUNCE, HELPER_PAIR, HELPER_LIST = " TailCall", " bounce", " Pair", " list"
HELPER_ITEMS, HELPER_SETG, HELPER_ENV, HELPER_ERR, HELPER_LOAD = " items", " set-global", " env", " caught", " load"
HELPER_EXC, HELPER_MACRO, HELPER_MUL = " Exception", " macro", " mul"


def _binop(op: ast.operator, unit_value: int | None) -> Callable[[list[ast.expr]], ast.expr | None]:
    def build(args: list[ast.expr]) -> ast.expr | None:
        if not args:
            return None if unit_value is None else _const(unit_value)
        if len(args) == 1:
            if isinstance(op, ast.Sub):
                return ast.UnaryOp(ast.USub(), args[0])
            if isinstance(op, ast.Div):
                return ast.BinOp(_const(1), op, args[0])
            return ast.UnaryOp(ast.UAdd(), args[0])
        e = args[0]
        for a in args[1:]:
            e = ast.BinOp(e, op, a)
        return e
    return build


def _product(args: list[ast.expr]) -> ast.expr:
    """`*` as calls of the bounded product (pilang/bounds.py): a big-integer product cannot be stopped
    once started, so its size is checked first."""
    if not args:
        return _const(1)
    if len(args) == 1:
        return ast.UnaryOp(ast.UAdd(), args[0])
    e = args[0]
    for a in args[1:]:
        e = _call(HELPER_MUL, e, a)
    return e


def _compare(op: Callable[[], ast.cmpop]) -> Callable[[list[ast.expr]], ast.expr | None]:
    def build(args: list[ast.expr]) -> ast.expr | None:
        if len(args) < 2:
            return None
        return ast.Compare(args[0], [op() for _ in args[1:]], args[1:])
    return build


def _fixed(n: int, make: Callable[..., ast.expr]) -> Callable[[list[ast.expr]], ast.expr | None]:
    return lambda args: make(*args) if len(args) == n else None


# Core primitives compiled to Python operators. None from a builder means "call it normally"
# (e.g. wrong argument count, so the primitive itself reports the arity error).
INLINE: dict[str, Callable[[list[ast.expr]], ast.expr | None]] = {
    "+": _binop(ast.Add(), 0), "-": _binop(ast.Sub(), None), "*": _product,
    "/": _binop(ast.Div(), None),
    "<": _compare(ast.Lt), ">": _compare(ast.Gt), "<=": _compare(ast.LtE), ">=": _compare(ast.GtE),
    "=": _compare(ast.Eq),
    "eq?": _fixed(2, lambda a, b: ast.Compare(a, [ast.Is()], [b])),
    "null?": _fixed(1, lambda a: ast.Compare(a, [ast.Is()], [_const(None)])),
    "car": _fixed(1, lambda a: ast.Attribute(a, "car", ast.Load())),
    "cdr": _fixed(1, lambda a: ast.Attribute(a, "cdr", ast.Load())),
    "cons": _fixed(2, lambda a, b: _call(HELPER_PAIR, a, b)),
    "pair?": _fixed(1, lambda a: ast.Compare(ast.Attribute(a, "__class__", ast.Load()), [ast.Is()], [_name(HELPER_PAIR)])),
}



class Compiler:
    """Compiles datums against one global environment (a dict of name -> value)."""

    def __init__(self, env: dict[str, Any], builtins: dict[str, Any]) -> None:
        self.env = env
        self.builtins = builtins  # the original bindings of inlined primitives
        self.specials: dict[Symbol, Callable[..., Any]] = {
            QUOTE: self.c_quote, QUASIQUOTE: self.c_quasiquote, IF: self.c_if, DEFINE: self.c_define,
            SET: self.c_set, LAMBDA: self.c_lambda, FN: self.c_lambda, LET: self.c_let,
            LETSTAR: self.c_letstar, LETREC: self.c_letrec, BEGIN: self.c_begin, AND: self.c_and,
            OR: self.c_or, DEFMACRO: self.c_defmacro, TRY: self.c_try, LOAD: self.c_load,
            UNQUOTE: self.c_misplaced, UNQUOTE_SPLICING: self.c_misplaced,
        }
        self.unit = Unit("<input>")
        # over the team server: names no pilang program should reach (the compiled code's helpers, whose
        # names begin with a space, and Python's dunder names) are refused, for reading and for defining
        self.sandboxed = False

    # ---- entry points -------------------------------------------------------------------

    def compile_toplevel(self, form: Any, span: Span) -> Callable[[], Any]:
        """Compile one top-level form into a zero-argument Python function."""
        saved, self.unit = self.unit, Unit(span.file)  # macros may run `eval` mid-compile
        try:
            return self._compile_toplevel(form, span)
        finally:
            self.unit = saved

    def _compile_toplevel(self, form: Any, span: Span) -> Callable[[], Any]:
        unit = self.unit
        fn = Fn(None)
        try:
            body = self.comp(form, span, Scope(fn, None), TAIL)
            func = self.funcdef(fn, "<toplevel>", [], None, body, span)
            factory = ast.FunctionDef(
                " factory", self.arguments([f" k{i}" for i in range(len(unit.consts))], None),
                [func, ast.Return(_name("<toplevel>"))], [], None, **self.fn_extra())
            module = ast.Module([_loc(factory, span)], [])
            ast.fix_missing_locations(module)
            with warnings.catch_warnings():  # e.g. "(5 3)": calling a literal is a run-time error
                warnings.simplefilter("ignore", SyntaxWarning)
                code = _rename(compile(module, unit.file, "exec", dont_inherit=True), unit.names)
        except RecursionError:
            raise PilangError("syntax", "form nested too deeply to compile", span) from None
        except (SyntaxError, ValueError) as exc:  # CPython's own limits, e.g. nested blocks
            raise PilangError("syntax", f"cannot compile this form: {exc}", span) from None
        PILANG_FILES.add(unit.file)
        namespace: dict[str, Any] = {}
        exec(code, self.env, namespace)
        return namespace[" factory"](*unit.consts)

    @staticmethod
    def fn_extra() -> dict[str, Any]:
        return {"type_params": []} if "type_params" in ast.FunctionDef._fields else {}

    @staticmethod
    def arguments(names: list[str], rest: str | None) -> ast.arguments:
        return ast.arguments(posonlyargs=[], args=[ast.arg(n) for n in names],
                             vararg=ast.arg(rest) if rest else None, kwonlyargs=[],
                             kw_defaults=[], kwarg=None, defaults=[])

    def funcdef(self, fn: Fn, name: str, params: list[str], rest: str | None, body: Stmts,
                span: Span, doc: str | None = None) -> ast.FunctionDef:
        """A Python def for a pilang lambda: nonlocal declarations, rest-list, loop, body."""
        pre: Stmts = []
        if doc is not None:
            pre.append(ast.Expr(_const(doc)))
        if fn.nonlocals:
            pre.append(ast.Nonlocal(sorted(fn.nonlocals)))
        if rest:
            pre.append(ast.Assign([_name(rest, True)], _call(HELPER_LIST, _name(rest))))
        if fn.loop_used:
            body = [ast.While(_const(True), body, [])]
        node = ast.FunctionDef(name, self.arguments(params, rest), pre + body, [], None, **self.fn_extra())
        return _loc(node, span)

    # ---- dispatch -----------------------------------------------------------------------

    def span(self, x: Any, hint: Span) -> Span:
        """The span of a compound datum if it is in this unit's file, else the hint."""
        sp = getattr(x, "span", None)
        return sp if sp is not None and sp.file == self.unit.file else hint

    def items(self, form: Any, hint: Span) -> list[tuple[Any, Span]]:
        """A form's elements with their spans; malformed (improper) lists are syntax errors."""
        out = []
        p = form
        while type(p) is Pair:
            sp = getattr(p, "cspan", None)
            out.append((p.car, sp if sp is not None and sp.file == self.unit.file else hint))
            p = p.cdr
        if p is not None:
            raise PilangError("syntax", "cannot evaluate a dotted list", hint)
        return out

    def finish(self, stmts: Stmts, e: ast.expr, ctx: int, span: Span) -> tuple[Stmts, ast.expr | None]:
        if ctx == VALUE:
            return stmts, e
        if ctx == TAIL:
            return stmts + [_loc(ast.Return(e), span)], None
        if isinstance(e, ast.Constant):
            return stmts, None
        return stmts + [_loc(ast.Expr(e), span)], None

    def comp(self, x: Any, span: Span, scope: Scope, ctx: int) -> Any:
        """Compile datum `x`: VALUE -> (stmts, expr); EFFECT -> (stmts, None); TAIL -> stmts."""
        stmts, e = self.comp_any(x, span, scope, ctx)
        return stmts if ctx == TAIL else (stmts, e)

    def value(self, x: Any, span: Span, scope: Scope) -> tuple[Stmts, ast.expr]:
        return self.comp_any(x, span, scope, VALUE)

    def comp_any(self, x: Any, span: Span, scope: Scope, ctx: int) -> tuple[Stmts, ast.expr | None]:
        t = type(x)
        if t is Symbol:
            return self.finish([], self.ref(x, span, scope), ctx, span)
        if t is Pair:
            span = self.span(x, span)
            return self.comp_pair(x, span, scope, ctx)
        if t in (int, float, str, bool) or x is None:
            return self.finish([], _loc(_const(x), span), ctx, span)
        if t is Keyword:
            return self.finish([], _loc(self.unit.const(x), span), ctx, span)
        if isinstance(x, list):
            return self.comp_vector(x, self.span(x, span), scope, ctx)
        if isinstance(x, dict):
            return self.comp_map(x, self.span(x, span), scope, ctx)
        return self.finish([], self.unit.const(x), ctx, span)  # an object spliced in by a macro

    def ref(self, sym: Symbol, span: Span, scope: Scope) -> ast.expr:
        """A variable reference: a Python local/closure variable, or a global lookup."""
        var = scope.lookup(sym)
        if var is not None:
            if var.fn is not scope.fn:
                var.fn.captured = True
            return _loc(_name(var.py), span)
        if sym in self.specials:
            raise PilangError("syntax", f"{sym.name} is a special form, not a value", span)
        if type(self.env.get(sym.name)) is Macro:
            raise PilangError("syntax", f"{sym.name} is a macro, not a value", span)
        self.check_reachable(sym, span)
        return _loc(self.global_ref(sym), span)

    def check_reachable(self, sym: Symbol, span: Span) -> None:
        """Refuse, when sandboxed, a global name that is the implementation's, not the language's."""
        if self.sandboxed and sym.interned and (sym.name.startswith((" ", "__")) or not sym.name):
            raise PilangError("permission", f"the name {sym.name!r} belongs to the implementation, not to pilang,"
                              " and is not reachable over the server", span)

    def global_ref(self, sym: Symbol) -> ast.expr:
        if not sym.interned or sym.name in PY_RESERVED:
            return ast.Subscript(_name(HELPER_ENV), _const(self.global_key(sym)), ast.Load())
        return _name(sym.name)

    @staticmethod
    def global_key(sym: Symbol) -> str:
        return sym.name if sym.interned else f"#:{sym.name}"

    def comp_pair(self, x: Pair, span: Span, scope: Scope, ctx: int) -> tuple[Stmts, ast.expr | None]:
        head = x.car
        if type(head) is Symbol and scope.lookup(head) is None:
            special = self.specials.get(head)
            if special is not None:
                return special(x, span, scope, ctx)
            bound = self.env.get(head.name)
            if type(bound) is Macro:
                expansion = self.expand_once(x, bound, span)
                return self.comp_any(expansion, span, scope, ctx)
            if head.name in INLINE and bound is self.builtins.get(head.name):
                stmts, exprs = self.values(self.items(x.cdr, span), scope)
                e = INLINE[head.name](exprs)
                if e is not None:
                    return self.finish(stmts, _loc(e, span), ctx, span)
        return self.comp_call(x, span, scope, ctx)

    def values(self, items: list[tuple[Any, Span]], scope: Scope) -> tuple[Stmts, list[ast.expr]]:
        """Compile arguments left to right; if one needs statements, earlier ones go to temps."""
        compiled = [self.value(x, sp, scope) for x, sp in items]
        if all(not s for s, _ in compiled[1:]):
            return compiled[0][0] if compiled else [], [e for _, e in compiled]
        stmts: Stmts = []
        exprs: list[ast.expr] = []
        for i, (s, e) in enumerate(compiled):
            stmts += s
            later_stmts = any(s2 for s2, _ in compiled[i + 1:])
            if later_stmts and not isinstance(e, ast.Constant):
                tmp = scope.fn.fresh(" a")
                stmts.append(ast.Assign([_name(tmp, True)], e))
                e = _name(tmp)
            exprs.append(e)
        return stmts, exprs

    def comp_call(self, x: Pair, span: Span, scope: Scope, ctx: int) -> tuple[Stmts, ast.expr | None]:
        items = self.items(x, span)
        stmts, exprs = self.values(items, scope)
        f, args = exprs[0], exprs[1:]
        if ctx == TAIL:
            fn = scope.fn
            loop = self.self_call(x.car, scope)
            if loop and len(args) >= len(fn.params) and (fn.rest or len(args) == len(fn.params)):
                fn.loop_used = True
                targets = [v.py for v in fn.params]
                values = args[:len(targets)]
                if fn.rest:
                    targets.append(fn.rest.py)
                    values.append(_call(HELPER_LIST, ast.Tuple(args[len(fn.params):], ast.Load())))
                assign = ast.Assign([ast.Tuple([_name(t, True) for t in targets], ast.Store())],
                                    ast.Tuple(values, ast.Load())) if targets else ast.Pass()
                tc = ast.Return(self.tail_call(f, args, span))
                check = ast.If(ast.Compare(f, [ast.Is()], [self.ref_self(scope)]), [assign, ast.Continue()], [tc])
                return stmts + [_loc(check, span)], None
            if fn.parent is None or self.is_primitive_call(x.car, scope):
                # the top level and primitives never recurse, so a direct call keeps the stack bounded
                return stmts + [_loc(ast.Return(_loc(ast.Call(f, args, []), span)), span)], None
            return stmts + [_loc(ast.Return(self.tail_call(f, args, span)), span)], None
        return self.finish(stmts, self.checked_call(_loc(ast.Call(f, args, []), span), span), ctx, span)

    def tail_call(self, f: ast.expr, args: list[ast.expr], span: Span) -> ast.expr:
        """A TailCall for the caller to run, remembering the call's span for its errors."""
        return _loc(_call(HELPER_TC, f, ast.Tuple(args, ast.Load()), self.unit.const(span)), span)

    @staticmethod
    def checked_call(call: ast.expr, span: Span) -> ast.expr:
        """The value of a non-tail call: a returned TailCall is run to completion here."""
        tmp = " r"  # consumed at once, so nested calls may share it
        return _loc(ast.IfExp(
            ast.Compare(ast.Attribute(ast.NamedExpr(_name(tmp, True), call), "__class__", ast.Load()),
                        [ast.IsNot()], [_name(HELPER_TC)]),
            _name(tmp), _call(HELPER_BOUNCE, _name(tmp))), span)

    def self_call(self, head: Any, scope: Scope) -> bool:
        """Whether `head` names the enclosing lambda through the binding it was defined by
        (a run-time identity check still guards against that binding having changed)."""
        fn = scope.fn
        return (fn.allow_loop and type(head) is Symbol and head is fn.self_sym
                and scope.lookup(head) is fn.self_var)

    def ref_self(self, scope: Scope) -> ast.expr:
        """The function object itself, held by the enclosing def's name."""
        scope.fn.parent.captured = True
        return _name(scope.fn.self_ref)

    def is_primitive_call(self, head: Any, scope: Scope) -> bool:
        return (type(head) is Symbol and scope.lookup(head) is None
                and getattr(self.env.get(head.name), "__pilang_primitive__", False))

    # ---- data literals ----------------------------------------------------------------

    def comp_vector(self, x: list[Any], span: Span, scope: Scope, ctx: int) -> tuple[Stmts, ast.expr | None]:
        spans = getattr(x, "spans", None) or [span] * len(x)
        stmts, exprs = self.values([(v, self.sub(s, span)) for v, s in zip(x, spans)], scope)
        return self.finish(stmts, _loc(ast.List(exprs, ast.Load()), span), ctx, span)

    def comp_map(self, x: dict[Any, Any], span: Span, scope: Scope, ctx: int) -> tuple[Stmts, ast.expr | None]:
        spans = getattr(x, "spans", None) or [span] * len(x)
        flat = []
        for (k, v), s in zip(x.items(), spans):
            flat += [(k, self.sub(s, span)), (v, self.sub(s, span))]
        stmts, exprs = self.values(flat, scope)
        return self.finish(stmts, _loc(ast.Dict(exprs[::2], exprs[1::2]), span), ctx, span)

    def sub(self, sp: Span | None, hint: Span) -> Span:
        return sp if sp is not None and sp.file == self.unit.file else hint

    # ---- special forms -------------------------------------------------------------------

    def expect(self, items: list[tuple[Any, Span]], low: int, high: int | None, usage: str, span: Span) -> None:
        n = len(items) - 1
        if n < low or (high is not None and n > high):
            raise PilangError("syntax", f"bad {items[0][0].name} form: expected {usage}", span)

    def c_misplaced(self, x: Pair, span: Span, scope: Scope, ctx: int) -> Any:
        raise PilangError("syntax", f"{x.car.name} is only valid inside a quasiquote (`)", span)

    def c_quote(self, x: Pair, span: Span, scope: Scope, ctx: int) -> tuple[Stmts, ast.expr | None]:
        items = self.items(x, span)
        self.expect(items, 1, 1, "(quote datum)", span)
        return self.finish([], _loc(self.literal(items[1][0]), span), ctx, span)

    def literal(self, v: Any) -> ast.expr:
        if type(v) in (int, float, str, bool) or v is None:
            return _const(v)
        return self.unit.const(v)

    def c_if(self, x: Pair, span: Span, scope: Scope, ctx: int) -> tuple[Stmts, ast.expr | None]:
        items = self.items(x, span)
        self.expect(items, 2, 3, "(if test then [else])", span)
        ts, te = self.value(items[1][0], items[1][1], scope)
        test = _truthy(te, " t", _bool_expr(te))
        else_form = items[3] if len(items) > 3 else (None, span)
        if ctx == TAIL:
            then = self.comp(items[2][0], items[2][1], scope, TAIL)
            other = self.comp(else_form[0], else_form[1], scope, TAIL)
            return ts + [_loc(ast.If(test, then, other), span)], None
        s1, e1 = self.comp_any(items[2][0], items[2][1], scope, ctx)
        s2, e2 = self.comp_any(else_form[0], else_form[1], scope, ctx)
        if ctx == EFFECT:
            return ts + [_loc(ast.If(test, s1 or [ast.Pass()], s2), span)], None
        if not s1 and not s2:
            return ts, _loc(ast.IfExp(test, e1, e2), span)
        tmp = scope.fn.fresh(" if")
        s1 = s1 + [ast.Assign([_name(tmp, True)], e1)]
        s2 = s2 + [ast.Assign([_name(tmp, True)], e2)]
        return ts + [_loc(ast.If(test, s1, s2), span)], _loc(_name(tmp), span)

    def c_and(self, x: Pair, span: Span, scope: Scope, ctx: int) -> tuple[Stmts, ast.expr | None]:
        return self.logical(x, span, scope, ctx, is_and=True)

    def c_or(self, x: Pair, span: Span, scope: Scope, ctx: int) -> tuple[Stmts, ast.expr | None]:
        return self.logical(x, span, scope, ctx, is_and=False)

    def logical(self, x: Pair, span: Span, scope: Scope, ctx: int, is_and: bool) -> tuple[Stmts, ast.expr | None]:
        """`and`/`or` yield the deciding value itself, with pilang truthiness (0 and "" are true)."""
        items = self.items(x, span)[1:]
        if not items:
            return self.finish([], _loc(_const(is_and), span), ctx, span)
        if ctx == TAIL:  # the last operand is in tail position
            out: Stmts = []
            for f, sp in items[:-1]:
                s, e = self.value(f, sp, scope)
                tmp = scope.fn.fresh(" and" if is_and else " or")
                test = _falsy(ast.NamedExpr(_name(tmp, True), e), tmp)
                out += s + [_loc(ast.If(test if is_and else ast.UnaryOp(ast.Not(), test),
                                        [ast.Return(_name(tmp))], []), sp)]
            return out + self.comp(items[-1][0], items[-1][1], scope, TAIL), None
        compiled = [self.value(f, sp, scope) for f, sp in items]
        if all(not s for s, _ in compiled):
            exprs = [e for _, e in compiled]
            if all(_bool_expr(e) for e in exprs):
                return self.finish([], _loc(ast.BoolOp(ast.And() if is_and else ast.Or(), exprs), span), ctx, span)
            # fold from the right: (and a b) = a if a is falsy else b
            e = exprs[-1]
            tmp = scope.fn.fresh(" and" if is_and else " or")
            for prev in reversed(exprs[:-1]):
                test = _falsy(prev, tmp)
                e = ast.IfExp(test, _name(tmp), e) if is_and else ast.IfExp(test, e, _name(tmp))
                if _is_simple(prev):
                    e.body, e.orelse = (prev, e.orelse) if is_and else (e.body, prev)
            return self.finish([], _loc(e, span), ctx, span)
        tmp = scope.fn.fresh(" and" if is_and else " or")
        out: Stmts = []
        block = out
        for i, (s, e) in enumerate(compiled):
            block += s
            block.append(ast.Assign([_name(tmp, True)], e))
            if i < len(compiled) - 1:
                nxt: Stmts = []
                test = _falsy(_name(tmp), tmp)
                block.append(ast.If(ast.UnaryOp(ast.Not(), test) if is_and else test, nxt, []))
                block = nxt
        return self.finish(out, _loc(_name(tmp), span), ctx, span)

    def c_begin(self, x: Pair, span: Span, scope: Scope, ctx: int) -> tuple[Stmts, ast.expr | None]:
        return self.body(self.items(x, span)[1:], span, scope, ctx)

    def body(self, forms: list[tuple[Any, Span]], span: Span, scope: Scope, ctx: int) -> tuple[Stmts, ast.expr | None]:
        """A sequence; internal defines bind in `scope` before any form runs (letrec* semantics)."""
        if scope.fn.parent is not None or scope.parent is not None:
            forms = self.splice_begins(forms, span, scope)
            for f, sp in forms:
                name = self.defined_name(f, sp)
                if name is not None and name not in scope.vars:
                    scope.bind(name)
        if not forms:
            return self.finish([], _loc(_const(None), span), ctx, span)
        stmts: Stmts = []
        for f, sp in forms[:-1]:
            s, _ = self.comp_any(f, sp, scope, EFFECT)
            stmts += s
        s, e = self.comp_any(forms[-1][0], forms[-1][1], scope, ctx)
        return stmts + s, e

    def splice_begins(self, forms: list[tuple[Any, Span]], span: Span, scope: Scope) -> list[tuple[Any, Span]]:
        """Expand body-level macro calls and flatten `begin`s, so that every define a body
        holds, written directly or produced by a macro such as defn, is an internal define."""
        out = []
        for f, sp in forms:
            while (type(f) is Pair and type(f.car) is Symbol and scope.lookup(f.car) is None
                   and type(macro := self.env.get(f.car.name)) is Macro):
                sp = self.span(f, sp)
                f = self.expand_once(f, macro, sp)
            if type(f) is Pair and f.car is BEGIN and scope.lookup(BEGIN) is None:
                out += self.splice_begins(self.items(f, sp)[1:], sp, scope)
            else:
                out.append((f, sp))
        return out

    def defined_name(self, f: Any, span: Span) -> Symbol | None:
        if type(f) is Pair and f.car is DEFINE and type(f.cdr) is Pair:
            target = f.cdr.car
            if type(target) is Pair:
                target = target.car
            return target if type(target) is Symbol else None
        return None

    def c_define(self, x: Pair, span: Span, scope: Scope, ctx: int) -> tuple[Stmts, ast.expr | None]:
        items = self.items(x, span)
        if len(items) < 2:
            raise PilangError("syntax", "bad define form: expected (define name value) or (define (name args...) body...)", span)
        target, tspan = items[1]
        if type(target) is Pair:  # (define (name . params) body...)
            name, params = target.car, target.cdr
            if type(name) is not Symbol:
                raise PilangError("syntax", "define: the procedure name must be a symbol", tspan)
            value_form: Any = None
            lam_items = [(LAMBDA, span), (params, tspan)] + items[2:]
            if len(items) < 3:
                raise PilangError("syntax", f"define: ({name.name} ...) needs a body", span)
        elif type(target) is Symbol:
            name = target
            self.expect(items, 1, 2, "(define name value)", span)
            value_form = items[2] if len(items) > 2 else (None, span)
            lam_items = None
        else:
            raise PilangError("syntax", "define: expected a name or (name args...)", tspan)
        local = None
        if scope.fn.parent is not None or scope.parent is not None:
            local = scope.vars.get(name) or scope.bind(name)
        else:
            self.check_redefine(name, tspan)
        if lam_items is not None:
            stmts, e = self.lambda_expr(lam_items, span, scope, name.name, name, local)
        elif self.is_lambda_form(value_form[0]):
            stmts, e = self.lambda_expr(self.items(value_form[0], value_form[1]), value_form[1], scope,
                                        name.name, name, local)
        else:
            stmts, e = self.value(value_form[0], value_form[1], scope)
        if local is not None:
            stmts = stmts + [_loc(ast.Assign([_name(local.py, True)], e), span)]
        else:
            key = self.global_key(name)
            target_node = ast.Subscript(_name(HELPER_ENV), _const(key), ast.Store())
            stmts = stmts + [_loc(ast.Assign([target_node], e), span)]
        return self.finish(stmts, _loc(self.unit.const(name), span), ctx, span)

    def check_redefine(self, name: Symbol, span: Span) -> None:
        self.check_reachable(name, span)
        if name in self.specials:
            raise PilangError("syntax", f"cannot define {name.name}: it is a special form", span)
        if name.name in INLINE:
            raise PilangError("syntax", f"cannot redefine core primitive {name.name} globally "
                              "(it is compiled inline); bind it locally with let, or pick another name", span)

    def is_lambda_form(self, f: Any) -> bool:
        return type(f) is Pair and f.car in (LAMBDA, FN) and type(f.car) is Symbol

    def c_set(self, x: Pair, span: Span, scope: Scope, ctx: int) -> tuple[Stmts, ast.expr | None]:
        items = self.items(x, span)
        self.expect(items, 2, 2, "(set! name value)", span)
        name, nspan = items[1]
        if type(name) is not Symbol:
            raise PilangError("syntax", "set!: expected a variable name", nspan)
        stmts, e = self.value(items[2][0], items[2][1], scope)
        var = scope.lookup(name)
        if var is not None:
            if var.fn is not scope.fn:
                var.fn.captured = True
                scope.fn.nonlocals.add(var.py)
            stmts = stmts + [_loc(ast.Assign([_name(var.py, True)], e), span)]
            return self.finish(stmts, _loc(_const(None), span), ctx, span)
        self.check_redefine(name, nspan)
        call = _call(HELPER_SETG, _const(self.global_key(name)), e)
        return self.finish(stmts, _loc(call, span), ctx, span)

    def c_lambda(self, x: Pair, span: Span, scope: Scope, ctx: int) -> tuple[Stmts, ast.expr | None]:
        stmts, e = self.lambda_expr(self.items(x, span), span, scope, "lambda")
        return self.finish(stmts, e, ctx, span)

    def parse_params(self, params: Any, span: Span) -> tuple[list[Symbol], Symbol | None]:
        """(a b), (a b . rest), [a b & rest], or a single symbol taking all arguments."""
        if type(params) is Symbol:
            return [], params
        names: list[Symbol] = []
        rest = None
        if isinstance(params, list):
            seq = list(params)
            if len(seq) >= 2 and seq[-2] is DOT_REST:
                rest, seq = seq[-1], seq[:-2]
        else:
            seq = []
            p = params
            while type(p) is Pair:
                seq.append(p.car)
                p = p.cdr
            rest = p
        for s in seq + ([rest] if rest is not None else []):
            if type(s) is not Symbol:
                raise PilangError("syntax", f"parameter must be a symbol, got {s!r}", span)
        if len(set(seq + ([rest] if rest else []))) != len(seq) + (1 if rest else 0):
            raise PilangError("syntax", "duplicate parameter name", span)
        return names + seq, rest

    def lambda_expr(self, items: list[tuple[Any, Span]], span: Span, scope: Scope, name: str,
                    self_sym: Symbol | None = None, self_var: Var | None = None) -> tuple[Stmts, ast.expr]:
        """Compile (lambda params body...) into a def; returns the statements and a reference.
        `self_sym`/`self_var`: the binding the lambda is defined by, for self tail calls."""
        if len(items) < 3:
            raise PilangError("syntax", "bad lambda form: expected (lambda (params...) body...)", span)
        params, rest = self.parse_params(items[1][0], items[1][1])
        body_items = items[2:]
        doc = None
        if len(body_items) > 1 and type(body_items[0][0]) is str:
            doc, body_items = body_items[0][0], body_items[1:]
        outer = scope.fn
        pyname = outer.fresh(" fn")
        saved_counter = outer.counter
        for allow_loop in (True, False):
            fn = Fn(outer, allow_loop)
            fn.self_sym, fn.self_var, fn.self_ref = self_sym, self_var, pyname
            inner = Scope(fn, scope)
            fn.params = [inner.bind(p) for p in params]
            fn.rest = inner.bind(rest) if rest is not None else None
            body, _ = self.body(body_items, span, inner, TAIL)
            if fn.loop_used and fn.captured and allow_loop:
                outer.counter = saved_counter  # closures would share the loop's variables
                continue
            break
        node = self.funcdef(fn, pyname, [v.py for v in fn.params], fn.rest.py if fn.rest else None,
                            body, span, doc)
        self.unit.names[pyname] = name
        return [node], _loc(_name(pyname), span)

    def bindings(self, x: Any, span: Span, form: str) -> list[tuple[Symbol, Any, Span]]:
        """Parse ((name init) ...) or [name init ...] binding lists."""
        out = []
        if isinstance(x, list):
            if len(x) % 2:
                raise PilangError("syntax", f"{form}: a binding vector needs name/value pairs", span)
            spans = getattr(x, "spans", None) or [span] * len(x)
            for i in range(0, len(x), 2):
                if type(x[i]) is not Symbol:
                    raise PilangError("syntax", f"{form}: binding name must be a symbol", self.sub(spans[i], span))
                out.append((x[i], x[i + 1], self.sub(spans[i + 1], span)))
            return out
        for b, bspan in self.items(x, span):
            parts = self.items(b, bspan) if type(b) is Pair else None
            if not parts or type(parts[0][0]) is not Symbol or len(parts) > 2:
                raise PilangError("syntax", f"{form}: each binding is (name value)", bspan)
            value, vspan = parts[1] if len(parts) == 2 else (None, bspan)
            out.append((parts[0][0], value, vspan))
        return out

    def c_let(self, x: Pair, span: Span, scope: Scope, ctx: int) -> tuple[Stmts, ast.expr | None]:
        items = self.items(x, span)
        if len(items) >= 2 and type(items[1][0]) is Symbol:
            return self.named_let(items, span, scope, ctx)
        if len(items) < 3:
            raise PilangError("syntax", "bad let form: expected (let ((name value) ...) body...)", span)
        binds = self.bindings(items[1][0], items[1][1], "let")
        stmts, exprs = self.values([(v, sp) for _, v, sp in binds], scope)
        inner = Scope(scope.fn, scope)
        for (sym, _, sp), e in zip(binds, exprs):
            var = inner.bind(sym)
            stmts.append(_loc(ast.Assign([_name(var.py, True)], e), sp))
        s, e = self.body(items[2:], span, inner, ctx)
        return stmts + s, e

    def c_letstar(self, x: Pair, span: Span, scope: Scope, ctx: int) -> tuple[Stmts, ast.expr | None]:
        items = self.items(x, span)
        if len(items) < 3:
            raise PilangError("syntax", "bad let* form: expected (let* ((name value) ...) body...)", span)
        stmts: Stmts = []
        for sym, v, sp in self.bindings(items[1][0], items[1][1], "let*"):
            s, e = self.value(v, sp, scope)
            scope = Scope(scope.fn, scope)
            var = scope.bind(sym)
            stmts += s + [_loc(ast.Assign([_name(var.py, True)], e), sp)]
        s, e = self.body(items[2:], span, Scope(scope.fn, scope), ctx)
        return stmts + s, e

    def c_letrec(self, x: Pair, span: Span, scope: Scope, ctx: int) -> tuple[Stmts, ast.expr | None]:
        items = self.items(x, span)
        if len(items) < 3:
            raise PilangError("syntax", "bad letrec form: expected (letrec ((name value) ...) body...)", span)
        inner = Scope(scope.fn, scope)
        binds = self.bindings(items[1][0], items[1][1], "letrec")
        vars_ = [inner.bind(sym) for sym, _, _ in binds]
        stmts: Stmts = []
        for var, (sym, v, sp) in zip(vars_, binds):
            if self.is_lambda_form(v):
                s, e = self.lambda_expr(self.items(v, sp), sp, inner, sym.name, sym, var)
            else:
                s, e = self.value(v, sp, inner)
            stmts += s + [_loc(ast.Assign([_name(var.py, True)], e), sp)]
        s, e = self.body(items[2:], span, inner, ctx)
        return stmts + s, e

    def named_let(self, items: list[tuple[Any, Span]], span: Span, scope: Scope, ctx: int) -> tuple[Stmts, ast.expr | None]:
        """(let loop ((i 0)) body): a local procedure called at once; self tail calls loop."""
        if len(items) < 4:
            raise PilangError("syntax", "bad named let: expected (let name ((var init) ...) body...)", span)
        name = items[1][0]
        binds = self.bindings(items[2][0], items[2][1], "let")
        stmts, inits = self.values([(v, sp) for _, v, sp in binds], scope)
        inner = Scope(scope.fn, scope)
        var = inner.bind(name)
        params = from_iter([sym for sym, _, _ in binds])
        lam = [(LAMBDA, span), (params, items[2][1])] + items[3:]
        s, e = self.lambda_expr(lam, span, inner, name.name, name, var)
        stmts += s + [ast.Assign([_name(var.py, True)], e)]
        call = _loc(ast.Call(_name(var.py), inits, []), span)
        if ctx == TAIL:  # a direct call: the loop body is textually inside, so the stack stays bounded
            return stmts + [_loc(ast.Return(call), span)], None
        return self.finish(stmts, self.checked_call(call, span), ctx, span)

    def c_defmacro(self, x: Pair, span: Span, scope: Scope, ctx: int) -> tuple[Stmts, ast.expr | None]:
        """(defmacro name (params...) body...): a global macro over unevaluated datums."""
        items = self.items(x, span)
        if len(items) < 4 or type(items[1][0]) is not Symbol:
            raise PilangError("syntax", "bad defmacro form: expected (defmacro name (params...) body...)", span)
        if scope.fn.parent is not None or scope.parent is not None:
            raise PilangError("syntax", "defmacro is only allowed at top level", span)
        name = items[1][0]
        self.check_redefine(name, items[1][1])
        stmts, e = self.lambda_expr([(LAMBDA, span)] + items[2:], span, scope, name.name)
        make = _call(HELPER_MACRO, e, _const(name.name))
        target = ast.Subscript(_name(HELPER_ENV), _const(self.global_key(name)), ast.Store())
        stmts = stmts + [_loc(ast.Assign([target], make), span)]
        return self.finish(stmts, _loc(self.unit.const(name), span), ctx, span)

    def c_try(self, x: Pair, span: Span, scope: Scope, ctx: int) -> tuple[Stmts, ast.expr | None]:
        """(try body... (catch e handler...) (finally cleanup...)): catches pilang errors."""
        items = self.items(x, span)[1:]
        body, handler, cleanup = [], None, None
        for f, sp in items:
            if type(f) is Pair and f.car is CATCH:
                parts = self.items(f, sp)
                if len(parts) < 2 or type(parts[1][0]) is not Symbol:
                    raise PilangError("syntax", "bad catch clause: expected (catch name handler...)", sp)
                handler = (parts[1][0], parts[2:], sp)
            elif type(f) is Pair and f.car is FINALLY:
                cleanup = (self.items(f, sp)[1:], sp)
            elif handler or cleanup:
                raise PilangError("syntax", "try: catch and finally clauses come after the body", sp)
            else:
                body.append((f, sp))
        if handler is None and cleanup is None:
            raise PilangError("syntax", "try needs a (catch name handler...) or (finally ...) clause", span)
        tmp = scope.fn.fresh(" try")
        s, e = self.body(body, span, Scope(scope.fn, scope), VALUE)
        try_body = s + [ast.Assign([_name(tmp, True)], e)]
        handlers = []
        if handler is not None:
            sym, forms, hspan = handler
            hscope = Scope(scope.fn, scope)
            var = hscope.bind(sym)
            exc_name = scope.fn.fresh(" exc")
            hs, he = self.body(forms, hspan, hscope, VALUE)
            conv = ast.Assign([_name(var.py, True)], _call(HELPER_ERR, _name(exc_name)))
            handlers.append(_loc(ast.ExceptHandler(_name(HELPER_EXC), exc_name,
                                                   [conv] + hs + [ast.Assign([_name(tmp, True)], he)]), hspan))
        final: Stmts = []
        if cleanup is not None:
            fs, _ = self.body(cleanup[0], cleanup[1], Scope(scope.fn, scope), EFFECT)
            final = fs or [ast.Pass()]
        node = ast.Try(try_body, handlers, [], final)
        return self.finish([_loc(node, span)], _loc(_name(tmp), span), ctx, span)

    def c_load(self, x: Pair, span: Span, scope: Scope, ctx: int) -> tuple[Stmts, ast.expr | None]:
        items = self.items(x, span)
        self.expect(items, 1, 1, '(load "file.pil")', span)
        stmts, e = self.value(items[1][0], items[1][1], scope)
        call = _call(HELPER_LOAD, e, _const(self.unit.file))
        return self.finish(stmts, _loc(call, span), ctx, span)

    # ---- quasiquote -----------------------------------------------------------------------

    def c_quasiquote(self, x: Pair, span: Span, scope: Scope, ctx: int) -> tuple[Stmts, ast.expr | None]:
        items = self.items(x, span)
        self.expect(items, 1, 1, "(quasiquote template)", span)
        stmts: Stmts = []
        e = self.qq(items[1][0], items[1][1], scope, 1, stmts)
        return self.finish(stmts, _loc(e, span), ctx, span)

    def qq_form(self, x: Any, head: Symbol) -> Any:
        """The argument of (head arg) if x is such a two-element form, else a sentinel."""
        if type(x) is Pair and x.car is head and type(x.cdr) is Pair and x.cdr.cdr is None:
            return x.cdr.car
        return _NONE

    def qq(self, x: Any, span: Span, scope: Scope, depth: int, stmts: Stmts) -> ast.expr:
        """Code that builds the quasiquoted template `x`; unquotes at depth 1 are evaluated."""
        if not self.has_unquote(x, depth):
            return self.literal(x)
        inner = self.qq_form(x, UNQUOTE)
        if inner is not _NONE:
            if depth == 1:
                s, e = self.value(inner, self.span(x, span), scope)
                stmts += s
                return e
            return _call(HELPER_LIST, ast.Tuple([self.literal(UNQUOTE), self.qq(inner, span, scope, depth - 1, stmts)], ast.Load()))
        inner = self.qq_form(x, QUASIQUOTE)
        if inner is not _NONE:
            return _call(HELPER_LIST, ast.Tuple([self.literal(QUASIQUOTE), self.qq(inner, span, scope, depth + 1, stmts)], ast.Load()))
        if isinstance(x, dict):
            keys = [self.qq(k, span, scope, depth, stmts) for k in x]
            vals = [self.qq(v, span, scope, depth, stmts) for v in x.values()]
            return ast.Dict(keys, vals)
        elems: list[ast.expr] = []
        tail: ast.expr = _const(None)
        seq = list(x) if isinstance(x, list) else None
        p = x
        while True:
            if seq is not None:
                if not seq:
                    break
                item = seq.pop(0)
            else:
                if type(p) is not Pair:
                    if p is not None:
                        tail = self.qq(p, span, scope, depth, stmts)
                    break
                tail_value = self.qq_form(p, UNQUOTE)
                if tail_value is not _NONE and p is not x:  # `(a . ,b)`
                    tail = self.qq(p, span, scope, depth, stmts)
                    break
                item, p = p.car, p.cdr
            spliced = self.qq_form(item, UNQUOTE_SPLICING)
            if spliced is not _NONE and depth == 1:
                s, e = self.value(spliced, self.span(item, span), scope)
                stmts += s
                elems.append(ast.Starred(_call(HELPER_ITEMS, e), ast.Load()))
            else:
                elems.append(self.qq(item, span, scope, depth, stmts))
        lst = ast.List(elems, ast.Load())
        if isinstance(x, list):
            return lst
        return _call(HELPER_LIST, lst, tail)

    def has_unquote(self, x: Any, depth: int) -> bool:
        if type(x) is Pair:
            if x.car in (UNQUOTE, UNQUOTE_SPLICING):
                return depth == 1 or self.has_unquote(x.cdr, depth - 1)
            if x.car is QUASIQUOTE:
                return self.has_unquote(x.cdr, depth + 1)
            while type(x) is Pair:
                if self.has_unquote(x.car, depth):
                    return True
                x = x.cdr
                if type(x) is Pair and x.car is UNQUOTE:
                    return True
            return False
        if isinstance(x, list):
            return any(self.has_unquote(v, depth) for v in x)
        if isinstance(x, dict):
            return any(self.has_unquote(k, depth) or self.has_unquote(v, depth) for k, v in x.items())
        return False

    # ---- macros ---------------------------------------------------------------------------

    def expand_once(self, form: Pair, macro: Macro, span: Span) -> Any:
        """Call a macro on its argument datums; errors inside it point at the macro call."""
        try:
            return call(macro.proc, *[f for f, _ in self.items(form.cdr, span)])
        except PilangError as err:
            if err.span is None:
                err.span = span
            raise
        except TypeError as exc:
            if "positional argument" in str(exc):
                raise PilangError("arity", f"macro {macro.name}: {exc}".replace("() ", " "), span) from None
            raise


_NONE = object()
