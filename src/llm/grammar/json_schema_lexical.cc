// The lexical pieces of JSON the keyword compilers share (json_schema_builder.h): whitespace as
// the options ask, punctuation, string characters, patterns over string characters, and the
// rules of any JSON value.
#include "llm/grammar/json_schema_builder.h"
#include "llm/grammar/regex.h"

namespace modelcar::llm::grammar::json_schema_internal {

Frag Builder::Ws(Nfa& n) {
  if (!o_.whitespace_pattern.empty()) {
    auto f = RegexFrag(o_.whitespace_pattern, &n);
    if (!f.ok()) Fail("", "whitespace_pattern: " + f.status().message());
    return *f;
  }
  if (!o_.any_whitespace) return n.Empty();
  CharSet ws = CharSet::Of(' ', ' ').Add('\n', '\n').Add('\t', '\t');
  return n.Repeat([&] { return n.Chars(ws); }, 0, 20);
}

// ws c ws, or c plus one space (", ", ": ") in compact mode.
Frag Builder::Punct(Nfa& n, char c) {
  if (o_.any_whitespace || !o_.whitespace_pattern.empty()) {
    return n.Seq({Ws(n), n.Literal(std::string(1, c)), Ws(n)});
  }
  return n.Literal(std::string(1, c) + " ");
}

Frag Builder::Open(Nfa& n, char c) {
  if (o_.any_whitespace || !o_.whitespace_pattern.empty()) {
    return n.Seq({n.Literal(std::string(1, c)), Ws(n)});
  }
  return n.Literal(std::string(1, c));
}

Frag Builder::Close(Nfa& n, char c) {
  if (o_.any_whitespace || !o_.whitespace_pattern.empty()) {
    return n.Seq({Ws(n), n.Literal(std::string(1, c))});
  }
  return n.Literal(std::string(1, c));
}

CharSet Builder::Unescaped() {
  return CharSet::Any().Minus(CharSet::Of(0, 0x1F).Add('"', '"').Add('\\', '\\'));
}

// One character of a JSON string: plain, or an escape.
Frag Builder::StringChar(Nfa& n) {
  CharSet hex = CharSet::Of('0', '9').Add('a', 'f').Add('A', 'F');
  Frag u = n.Seq({n.Literal("u"), n.Chars(hex), n.Chars(hex), n.Chars(hex), n.Chars(hex)});
  CharSet simple = CharSet::Of('"', '"').Add('\\', '\\').Add('/', '/').Add('b', 'b');
  simple.Add('f', 'f').Add('n', 'n').Add('r', 'r').Add('t', 't');
  Frag esc = n.Seq({n.Literal("\\"), n.Alt({n.Chars(simple), u})});
  return n.Alt({n.Chars(Unescaped()), esc});
}

Frag Builder::Regex(Nfa& n, const std::string& pattern, const std::string& path, const char* what) {
  CharSet restrict = Unescaped();
  RegexOptions ro;
  ro.restrict_to = & restrict;
  std::string p = pattern;
  auto f = RegexFrag(p, &n, ro);
  if (!f.ok()) Fail(path, std::string(what) + ": " + f.status().message());
  return *f;
}

Frag Builder::JsonStringFrag(Nfa& n) {
  return n.Seq({n.Literal("\""), n.Star(StringChar(n)), n.Literal("\"")});
}

void Builder::AnyRules() {
  if (any_value_ >= 0) return;
  any_value_ = g_.AddRule("any_value");
  any_object_ = g_.AddRule("any_object");
  any_array_ = g_.AddRule("any_array");
  {
    Nfa& n = g_.nfa(any_value_);
    Frag num = Regex(n, kNumber, "", "number");
    g_.SetBody(any_value_, n.Alt({JsonStringFrag(n), num, n.Literal("true"), n.Literal("false"),
                                  n.Literal("null"), n.Call(any_object_), n.Call(any_array_)}));
  }
  {
    Nfa& n = g_.nfa(any_object_);
    auto member = [&] { return n.Seq({JsonStringFrag(n), Punct(n, ':'), n.Call(any_value_)}); };
    Frag items = n.Optional(n.Seq({member(), n.Star(n.Seq({Punct(n, ','), member()}))}));
    g_.SetBody(any_object_, n.Seq({Open(n, '{'), items, Close(n, '}')}));
  }
  {
    Nfa& n = g_.nfa(any_array_);
    Frag items =
        n.Optional(n.Seq({n.Call(any_value_), n.Star(n.Seq({Punct(n, ','), n.Call(any_value_)}))}));
    g_.SetBody(any_array_, n.Seq({Open(n, '['), items, Close(n, ']')}));
  }
}

Frag Builder::AnyValue(Nfa& n) {
  AnyRules();
  return n.Call(any_value_);
}

}  // namespace modelcar::llm::grammar::json_schema_internal
