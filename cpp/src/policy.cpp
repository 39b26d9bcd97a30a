#include "amends/policy.hpp"

#include "amends/names.hpp"

#include <algorithm>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#define TOML_HEADER_ONLY 1
#define TOML_EXCEPTIONS 1
#include <toml++/toml.h>

namespace amends::policy {

namespace {

using Known = std::vector<std::string_view>;

// The findings validation can raise as exceptions, which [exception_roles]
// may send to a role of their own.
const Known kExceptionCodes = {"above_computed_amount", "outside_claim_window", "outside_return_window",
                                   "above_tier_cap",        "above_trailing_cap",   "above_value_share",
                                   "needs_legal_review",    "accumulation_threshold", "duplicate_claim"};

std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

// The known name `name` is most likely a misspelling of, or empty.
std::string_view closest(std::string_view name, const Known& known) {
  std::string_view best;
  std::size_t best_distance = 3;  // at most two edits away ...
  for (std::string_view k : known) {
    const std::size_t d = edit_distance(name, k);
    if (d < best_distance && d < std::max(name.size(), k.size()) / 2 + 1) {  // ... and not most of the word
      best = k;
      best_distance = d;
    }
  }
  return best;
}

std::string quote(std::string_view s) { return "\"" + std::string(s) + "\""; }

std::string joined(const Known& known, std::string_view before, std::string_view after) {
  std::string out;
  for (std::string_view k : known) out += (out.empty() ? "" : ", ") + std::string(before) + std::string(k) + std::string(after);
  return out;
}

std::string amount_text(const Decimal& amount, Currency currency) {
  return amount.to_string(currency.minor_units()) + " " + std::string(currency.code());
}

// Reads a policy file into a Policy, collecting every problem instead of
// stopping at the first: each reading helper records what is wrong and
// returns nothing, and the reading goes on.
class Reader {
 public:
  std::vector<Problem> problems;

  void add(const toml::source_region& at, std::string where, std::string message) {
    problems.push_back(Problem{at.begin.line, at.begin.column, std::move(where), std::move(message)});
  }
  void add(const toml::node& at, std::string where, std::string message) { add(at.source(), std::move(where), std::move(message)); }
  // A person's name the desk can compare (names.hpp), or a problem.
  void person_name(const toml::node& at, const std::string& name, const std::string& where) {
    try {
      names::normalise(name);
    } catch (const invalid_name& e) {
      add(at, where, e.what());
    }
  }
  static bool same_name(const std::string& a, const std::string& b) {
    try {
      return names::same_person(a, b);
    } catch (const invalid_name&) {
      return a == b;
    }
  }

  // Every key of `table` is one of `known`; `where` names the table.
  void known_keys(const toml::table& table, const std::string& where, const Known& known) {
    for (const auto& [key, value] : table) {
      if (std::find(known.begin(), known.end(), key.str()) != known.end()) continue;
      const std::string_view near = closest(key.str(), known);
      add(key.source(), where,
          "unknown key " + quote(key.str()) +
              (near.empty() ? " (known keys: " + joined(known, "", "") + ")" : "; did you mean " + quote(near) + "?"));
    }
  }

  const toml::table* table(const toml::node* node, const std::string& where, const std::string& shape) {
    if (!node) return nullptr;
    if (const toml::table* t = node->as_table()) return t;
    add(*node, where, "must be " + shape);
    return nullptr;
  }

  // The tables of an array of tables ([[rules]]); a problem for anything else.
  std::vector<const toml::table*> tables(const toml::node* node, const std::string& where) {
    std::vector<const toml::table*> out;
    if (!node) return out;
    const toml::array* array = node->as_array();
    if (!array) {
      add(*node, where, "must be an array of tables ([[" + where + "]])");
      return out;
    }
    for (std::size_t i = 0; i < array->size(); ++i) {
      if (const toml::table* t = array->get(i)->as_table()) {
        out.push_back(t);
      } else {
        add(*array->get(i), where + "[" + std::to_string(i) + "]", "must be a table");
        out.push_back(nullptr);
      }
    }
    return out;
  }

  std::optional<std::string> text(const toml::table& owner, std::string_view key, const std::string& where,
                                  bool required) {
    const toml::node* node = owner.get(key);
    if (!node) {
      if (required) add(owner, where, "is missing");
      return std::nullopt;
    }
    return text(*node, where);
  }
  std::optional<std::string> text(const toml::node& node, const std::string& where) {
    const auto s = node.value<std::string>();
    if (!s) {
      add(node, where, "must be a string");
      return std::nullopt;
    }
    if (s->empty()) {
      add(node, where, "must not be empty");
      return std::nullopt;
    }
    return *s;
  }

  // An array of non-empty strings; nullopt (and a problem) when it is not one.
  std::optional<std::vector<std::string>> strings(const toml::table& owner, std::string_view key,
                                                  const std::string& where) {
    const toml::node* node = owner.get(key);
    if (!node) return std::nullopt;
    const toml::array* array = node->as_array();
    if (!array) {
      add(*node, where, "must be an array of strings");
      return std::nullopt;
    }
    std::vector<std::string> out;
    bool ok = true;
    for (std::size_t i = 0; i < array->size(); ++i) {
      if (auto s = text(*array->get(i), where + "[" + std::to_string(i) + "]")) {
        out.push_back(*s);
      } else {
        ok = false;
      }
    }
    if (!ok) return std::nullopt;
    return out;
  }

  // The string at array position i of owner[key], for a problem's position.
  const toml::node& element(const toml::table& owner, std::string_view key, std::size_t i) {
    return *owner.get(key)->as_array()->get(i);
  }

  std::vector<concessions::Kind> kinds(const toml::table& owner, std::string_view key, const std::string& where,
                                       bool required) {
    std::vector<concessions::Kind> out;
    const auto names = strings(owner, key, where);
    if (!names) {
      if (required && !owner.get(key)) add(owner, where, "is missing");
      return out;
    }
    for (std::size_t i = 0; i < names->size(); ++i) {
      try {
        out.push_back(concessions::parse_kind((*names)[i]));
      } catch (const error& e) {
        add(element(owner, key, i), where + "[" + std::to_string(i) + "]", e.what());
      }
    }
    if (names->empty() && required) add(*owner.get(key), where, "names no kind of concession");
    return out;
  }

  // Amounts are strings ("50.00"): a TOML float would be binary.
  std::optional<Decimal> amount(const toml::table& owner, std::string_view key, const std::string& where,
                                bool required = false) {
    const auto s = text(owner, key, where, required);
    if (!s) return std::nullopt;
    try {
      return Decimal::parse(*s);
    } catch (const error& e) {
      add(*owner.get(key), where, e.what());
      return std::nullopt;
    }
  }

  std::optional<Decimal> fraction(const toml::table& owner, std::string_view key, const std::string& where,
                                  bool required = false) {
    const auto d = amount(owner, key, where, required);
    if (d && (d->sign() < 0 || Decimal(1) < *d)) {
      add(*owner.get(key), where, "must be a fraction from \"0\" to \"1\" (\"0.10\" for 10%)");
      return std::nullopt;
    }
    return d;
  }

  std::optional<int> integer(const toml::table& owner, std::string_view key, const std::string& where, int low,
                             int high, bool required = false) {
    const toml::node* node = owner.get(key);
    if (!node) {
      if (required) add(owner, where, "is missing");
      return std::nullopt;
    }
    const auto v = node->value_exact<std::int64_t>();
    if (!v || *v < low || *v > high) {
      add(*node, where, "must be a whole number from " + std::to_string(low) + " to " + std::to_string(high));
      return std::nullopt;
    }
    return static_cast<int>(*v);
  }

  std::optional<bool> boolean(const toml::table& owner, std::string_view key, const std::string& where) {
    const toml::node* node = owner.get(key);
    if (!node) return std::nullopt;
    const auto v = node->value_exact<bool>();
    if (!v) add(*node, where, "must be true or false");
    return v;
  }

  std::optional<Date> date(const toml::table& owner, std::string_view key, const std::string& where) {
    const toml::node* node = owner.get(key);
    if (!node) {
      add(owner, where, "is missing");
      return std::nullopt;
    }
    try {
      if (auto d = node->value<toml::date>()) return Date::from_ymd(d->year, d->month, d->day);
      if (auto s = node->value<std::string>()) return Date::parse(*s);
      add(*node, where, "must be a date (2026-12-20)");
    } catch (const error& e) {
      add(*node, where, e.what());
    }
    return std::nullopt;
  }

  // A band of amounts (over, up_to) whose floor is below its ceiling.
  void band(const toml::table& t, const std::string& where, std::optional<Decimal>& over,
            std::optional<Decimal>& up_to) {
    over = amount(t, "over", where + ".over");
    up_to = amount(t, "up_to", where + ".up_to");
    if (over && up_to && !(*over < *up_to)) add(t, where, "has a band whose floor is not below its ceiling");
  }

  void caps(const toml::table& owner, std::string_view key, const std::string& where,
            std::map<std::string, Decimal, std::less<>>& out) {
    const toml::table* caps = table(owner.get(key), where, "a table of tier = \"amount\"");
    if (!caps) return;
    for (const auto& [tier, value] : *caps) {
      const std::string w = where + "." + std::string(tier.str());
      const auto cap = amount(*caps, tier.str(), w);
      if (!cap) continue;
      if (cap->sign() < 0) {
        add(value, w, "must not be negative");
        continue;
      }
      out.emplace(std::string(tier.str()), *cap);
    }
  }

  void read(const toml::table& doc, Policy& p);

 private:
  void read_roles(const toml::table& doc, Policy& p);
  void read_rules(const toml::table& doc, Policy& p);
  void read_terms(const toml::table& doc, Policy& p);
  void read_evidence(const toml::table& doc, Policy& p);
  void read_requirements(const toml::table& doc, Policy& p);
  void read_accumulation(const toml::table& doc, Policy& p);
  void role_exists(const Policy& p, const std::string& role, const toml::node& at, const std::string& where) {
    if (!p.role(role)) add(at, where, "names the role " + quote(role) + ", which [roles] does not define");
  }
};

// The top level: its values, its tables ([roles]) and its arrays of tables ([[rules]]).
const Known kTopTables = {"exception_roles", "roles", "terms", "budget", "accounting", "evidence_types"};
const Known kTopArrays = {"delegations", "rules", "requirements", "accumulation"};
const Known kTopKeys = {"version", "base_currency", "exception_role", "exception_roles", "roles",
                            "terms",   "budget",        "accounting",     "evidence_types",  "delegations",
                            "rules",   "requirements",  "accumulation"};

bool contains(const Known& known, std::string_view name) { return std::find(known.begin(), known.end(), name) != known.end(); }

// How a top-level name is written in the file: "version", [roles] or [[rules]].
std::string written(std::string_view name) {
  if (contains(kTopTables, name)) return "[" + std::string(name) + "]";
  if (contains(kTopArrays, name)) return "[[" + std::string(name) + "]]";
  return quote(name);
}

void Reader::read(const toml::table& doc, Policy& p) {
  for (const auto& [key, value] : doc) {
    if (contains(kTopKeys, key.str())) continue;
    const std::string_view near = closest(key.str(), kTopKeys);
    const std::string hint = near.empty() ? "" : "; did you mean " + written(near) + "?";
    const toml::array* array = value.as_array();
    if (value.is_table()) {
      add(key.source(), "", "unknown table [" + std::string(key.str()) + "]" + hint);
    } else if (array && !array->empty() && array->is_array_of_tables()) {
      add(key.source(), "", "unknown table [[" + std::string(key.str()) + "]]" + hint);
    } else {
      add(key.source(), "", "unknown key " + quote(key.str()) + " at the top level" + hint);
    }
  }
  if (auto v = text(doc, "version", "version", true)) p.version = *v;
  if (auto base = text(doc, "base_currency", "base_currency", false)) {
    try {
      p.base_currency = Currency::of(*base);
    } catch (const error& e) {
      add(*doc.get("base_currency"), "base_currency", e.what());
    }
  }
  read_roles(doc, p);
  if (auto role = text(doc, "exception_role", "exception_role", false)) {
    p.exception_role = *role;
    role_exists(p, *role, *doc.get("exception_role"), "exception_role");
  }
  if (const toml::table* er = table(doc.get("exception_roles"), "exception_roles", "a table of finding = \"role\"")) {
    for (const auto& [code, value] : *er) {
      const std::string where = "exception_roles." + std::string(code.str());
      if (!contains(kExceptionCodes, code.str())) {
        const std::string_view near = closest(code.str(), kExceptionCodes);
        add(code.source(), "[exception_roles]",
            "unknown finding " + quote(code.str()) +
                (near.empty() ? " (the findings a role can decide: " + joined(kExceptionCodes, "", "") + ")"
                              : "; did you mean " + quote(near) + "?"));
        continue;
      }
      if (auto role = text(value, where)) {
        role_exists(p, *role, value, where);
        p.exception_roles.emplace(std::string(code.str()), *role);
      }
    }
  }
  const std::vector<const toml::table*> delegations = tables(doc.get("delegations"), "delegations");
  for (std::size_t i = 0; i < delegations.size(); ++i) {
    if (!delegations[i]) continue;
    const toml::table& d = *delegations[i];
    const std::string where = "delegations[" + std::to_string(i) + "]";
    known_keys(d, where, {"from", "to", "start", "end"});
    const auto from = text(d, "from", where + ".from", true), to = text(d, "to", where + ".to", true);
    const auto start = date(d, "start", where + ".start"), end = date(d, "end", where + ".end");
    if (!from || !to || !start || !end) continue;
    if (*end < *start) add(d, where, "ends before it starts");
    person_name(d, *from, where + ".from");
    person_name(d, *to, where + ".to");
    if (same_name(*from, *to)) add(d, where, "delegates to the same person");
    p.delegations.push_back(Delegation{*from, *to, *start, *end});
  }
  read_evidence(doc, p);
  read_rules(doc, p);
  read_terms(doc, p);
  read_requirements(doc, p);
  read_accumulation(doc, p);
}

void Reader::read_roles(const toml::table& doc, Policy& p) {
  const toml::table* roles = table(doc.get("roles"), "roles", "a table of role = [\"person\", ...]");
  if (!roles) return;
  for (const auto& [name, people] : *roles) {
    const std::string role_name(name.str());
    const auto names = strings(*roles, name.str(), "roles." + role_name);
    // A role that does not read still exists, so the steps naming it are not also refused.
    p.roles.push_back(Role{role_name, names.value_or(std::vector<std::string>{})});
    if (names && names->empty()) add(people, "roles." + role_name, "names nobody");
    if (names)
      for (std::size_t i = 0; i < names->size(); ++i) person_name(people, (*names)[i], "roles." + role_name + "[" + std::to_string(i) + "]");
  }
}

void Reader::read_rules(const toml::table& doc, Policy& p) {
  const toml::node* node = doc.get("rules");
  if (!node || (node->as_array() && node->as_array()->empty())) {
    add(node ? *node : static_cast<const toml::node&>(doc), "rules",
        "are missing: a policy without rules would block every request");
    return;
  }
  std::set<std::string, std::less<>> names;
  const std::vector<const toml::table*> rules = tables(node, "rules");
  for (std::size_t i = 0; i < rules.size(); ++i) {
    if (!rules[i]) continue;
    const toml::table& r = *rules[i];
    std::string where = "rules[" + std::to_string(i) + "]";
    Rule rule;
    if (auto name = text(r, "name", where + ".name", true)) {
      rule.name = *name;
      where += " (" + rule.name + ")";
      if (!names.insert(rule.name).second) add(*r.get("name"), where, "has the name of an earlier rule");
    }
    known_keys(r, where, {"name", "kinds", "over", "up_to", "tiers", "auto_approve", "steps"});
    rule.kinds = kinds(r, "kinds", where + ".kinds", true);
    band(r, where, rule.over, rule.up_to);
    rule.tiers = strings(r, "tiers", where + ".tiers").value_or(std::vector<std::string>{});
    rule.auto_approve = boolean(r, "auto_approve", where + ".auto_approve").value_or(false);
    bool steps_given = false;
    if (const toml::node* steps = r.get("steps")) {
      steps_given = true;
      const toml::array* array = steps->as_array();
      if (!array) add(*steps, where + ".steps", "must be an array of { any_of = [...] } or { all_of = [...] }");
      for (std::size_t s = 0; array && s < array->size(); ++s) {
        const std::string step_where = where + ".steps[" + std::to_string(s) + "]";
        const toml::table* st = array->get(s)->as_table();
        if (!st) {
          add(*array->get(s), step_where, "must be a table: { any_of = [...] } or { all_of = [...] }");
          continue;
        }
        known_keys(*st, step_where, {"any_of", "all_of", "escalate_after_hours", "escalate_to"});
        Step step;
        const bool any = st->get("any_of") != nullptr, all = st->get("all_of") != nullptr;
        if (any == all) {
          add(*st, step_where, "needs exactly one of any_of and all_of");
          continue;
        }
        step.all_of = all;
        const char* key = all ? "all_of" : "any_of";
        const auto roles = strings(*st, key, step_where + "." + key);
        if (roles) {
          if (roles->empty()) add(*st->get(key), step_where, "names no role");
          for (std::size_t k = 0; k < roles->size(); ++k) role_exists(p, (*roles)[k], element(*st, key, k), step_where);
          step.roles = *roles;
        }
        const toml::node* hours = st->get("escalate_after_hours");
        const toml::node* to = st->get("escalate_to");
        if (hours) {
          const auto h = hours->value_exact<std::int64_t>();
          if (!h || *h <= 0 || *h > 24 * 366) {
            add(*hours, step_where + ".escalate_after_hours", "must be a whole number of hours from 1 to 8784");
          } else {
            step.escalate_after_hours = static_cast<int>(*h);
          }
          if (!to) add(*st, step_where + ".escalate_to", "is missing: escalate_after_hours needs a role to escalate to");
        }
        if (to) {
          if (!hours) add(*to, step_where + ".escalate_to", "needs escalate_after_hours (after how long it escalates)");
          if (auto role = text(*to, step_where + ".escalate_to")) {
            role_exists(p, *role, *to, step_where + ".escalate_to");
            step.escalate_to = *role;
          }
        }
        rule.steps.push_back(std::move(step));
      }
    }
    if (rule.auto_approve && steps_given) add(r, where, "auto-approves and has steps; choose one");
    if (!rule.auto_approve && !steps_given) add(r, where, "has no steps and does not auto-approve");
    p.rules.push_back(std::move(rule));
  }
}

void Reader::read_terms(const toml::table& doc, Policy& p) {
  Terms& terms = p.terms;
  const toml::table* all = table(doc.get("terms"), "terms", "a table of [terms.service_credit], [terms.refund], ...");
  if (all) {
    const Known kTerms = {"service_credit", "refund", "goodwill", "retention"};
    for (const auto& [key, value] : *all) {
      if (contains(kTerms, key.str())) continue;
      const std::string_view near = closest(key.str(), kTerms);
      add(key.source(), "[terms]",
          "unknown table [terms." + std::string(key.str()) + "]" +
              (near.empty() ? " (known: " + joined(kTerms, "[terms.", "]") + ")"
                            : "; did you mean [terms." + std::string(near) + "]?"));
    }
  }
  auto sub = [&](const char* name) -> const toml::table* {
    if (!all) return nullptr;
    return table(all->get(name), "terms." + std::string(name), "a table ([terms." + std::string(name) + "])");
  };
  if (const toml::table* sc = sub("service_credit")) {
    const std::string where = "terms.service_credit";
    known_keys(*sc, "[terms.service_credit]",
               {"tiers", "cap_fraction", "cap_amount", "minimum_credit", "claim_window_days", "duplicate_claims"});
    if (const toml::node* tiers = sc->get("tiers")) {
      const toml::array* array = tiers->as_array();
      if (!array || array->empty()) {
        add(*tiers, where + ".tiers", "must be a non-empty array of { below, credit }");
      } else {
        terms.service_credit.tiers.clear();
        for (std::size_t i = 0; i < array->size(); ++i) {
          const std::string w = where + ".tiers[" + std::to_string(i) + "]";
          const toml::table* tier = array->get(i)->as_table();
          if (!tier) {
            add(*array->get(i), w, "must be a table { below = \"0.9999\", credit = \"0.10\" }");
            continue;
          }
          known_keys(*tier, "[terms.service_credit].tiers[" + std::to_string(i) + "]", {"below", "credit"});
          const auto below = fraction(*tier, "below", w + ".below", true);
          const auto credit = fraction(*tier, "credit", w + ".credit", true);
          if (below && credit) terms.service_credit.tiers.push_back({*below, *credit});
        }
      }
    }
    if (auto v = fraction(*sc, "cap_fraction", where + ".cap_fraction")) terms.service_credit.cap_fraction = *v;
    if (auto v = amount(*sc, "cap_amount", where + ".cap_amount")) terms.service_credit.cap_amount = *v;
    if (auto v = amount(*sc, "minimum_credit", where + ".minimum_credit")) terms.service_credit.minimum_credit = *v;
    if (auto v = integer(*sc, "claim_window_days", where + ".claim_window_days", 0, 3660))
      terms.service_credit.claim_window_days = *v;
    if (auto v = text(*sc, "duplicate_claims", where + ".duplicate_claims", false)) {
      if (*v == "refuse") {
        p.duplicate_claims = DuplicateClaims::refuse;
      } else if (*v == "hold") {
        p.duplicate_claims = DuplicateClaims::hold;
      } else {
        add(*sc->get("duplicate_claims"), where + ".duplicate_claims", "must be \"refuse\" or \"hold\", not " + quote(*v));
      }
    }
  }
  if (const toml::table* rf = sub("refund")) {
    known_keys(*rf, "[terms.refund]", {"return_window_days"});
    if (auto v = integer(*rf, "return_window_days", "terms.refund.return_window_days", 0, 3660))
      terms.refund.return_window_days = *v;
  }
  if (const toml::table* gw = sub("goodwill")) {
    known_keys(*gw, "[terms.goodwill]", {"per_request_cap", "trailing_cap"});
    caps(*gw, "per_request_cap", "terms.goodwill.per_request_cap", terms.goodwill.per_request_cap);
    caps(*gw, "trailing_cap", "terms.goodwill.trailing_cap", terms.goodwill.trailing_cap);
  }
  if (const toml::table* rt = sub("retention")) {
    known_keys(*rt, "[terms.retention]", {"max_share_of_value"});
    if (auto v = fraction(*rt, "max_share_of_value", "terms.retention.max_share_of_value"))
      terms.retention.max_share_of_value = *v;
  }
  if (const toml::table* b = table(doc.get("budget"), "budget", "a table ([budget])")) {
    known_keys(*b, "[budget]", {"kinds", "escalate_to"});
    if (b->get("kinds")) terms.budget_kinds = kinds(*b, "kinds", "budget.kinds", false);
    if (auto role = text(*b, "escalate_to", "budget.escalate_to", false)) {
      role_exists(p, *role, *b->get("escalate_to"), "budget.escalate_to");
      terms.budget_escalate_to = *role;
    }
  }
  if (const toml::table* a = table(doc.get("accounting"), "accounting", "a table ([accounting])")) {
    known_keys(*a, "[accounting]", {"goodwill_as_expense", "cash_account"});
    if (auto v = boolean(*a, "goodwill_as_expense", "accounting.goodwill_as_expense")) terms.accounting.goodwill_as_expense = *v;
    if (auto v = text(*a, "cash_account", "accounting.cash_account", false)) terms.accounting.cash_account = *v;
  }
}

void Reader::read_evidence(const toml::table& doc, Policy& p) {
  const toml::table* types = table(doc.get("evidence_types"), "evidence_types", "a table of type = [\"PREFIX-\", ...]");
  if (!types) return;
  std::map<std::string, std::string, std::less<>> owner;  // prefix -> type
  for (const auto& [name, value] : *types) {
    const std::string type(name.str());
    const std::string where = "evidence_types." + type;
    const auto prefixes = strings(*types, name.str(), where);
    if (!prefixes) continue;
    if (prefixes->empty()) {
      add(value, where, "names no prefix: an evidence id is of this type when it starts with one");
      continue;
    }
    p.evidence_types.emplace(type, *prefixes);
  }
  // An id may be of one type only: no prefix starts with another type's prefix.
  for (const auto& [type, prefixes] : p.evidence_types)
    for (const std::string& prefix : prefixes)
      for (const auto& [other, others] : p.evidence_types)
        for (const std::string& o : others)
          if (other != type && prefix.starts_with(o) && (prefix != o || type < other))
            add(*types->get(type), "evidence_types." + type,
                "the prefix " + quote(prefix) + " starts with " + quote(o) + " of type " + quote(other) +
                    ": an id would be of both types");
}

void Reader::read_requirements(const toml::table& doc, Policy& p) {
  const std::vector<const toml::table*> requirements = tables(doc.get("requirements"), "requirements");
  for (std::size_t i = 0; i < requirements.size(); ++i) {
    if (!requirements[i]) continue;
    const toml::table& t = *requirements[i];
    const std::string where = "requirements[" + std::to_string(i) + "]";
    known_keys(t, where, {"kinds", "over", "up_to", "tiers", "reasons", "justification", "evidence"});
    Requirement req;
    req.line = t.source().begin.line;
    req.kinds = kinds(t, "kinds", where + ".kinds", true);
    band(t, where, req.over, req.up_to);
    req.tiers = strings(t, "tiers", where + ".tiers").value_or(std::vector<std::string>{});
    req.reasons = strings(t, "reasons", where + ".reasons").value_or(std::vector<std::string>{});
    if (t.get("reasons") && req.reasons.empty() && t.get("reasons")->is_array() && t.get("reasons")->as_array()->empty())
      add(*t.get("reasons"), where + ".reasons", "names no reason: leave it out to accept any reason");
    req.justification = boolean(t, "justification", where + ".justification").value_or(false);
    if (auto evidence = strings(t, "evidence", where + ".evidence")) {
      for (std::size_t k = 0; k < evidence->size(); ++k)
        if (!p.evidence_types.contains((*evidence)[k]))
          add(element(t, "evidence", k), where + ".evidence[" + std::to_string(k) + "]",
              "names the evidence type " + quote((*evidence)[k]) + ", which [evidence_types] does not define");
      req.evidence = *evidence;
    }
    if (req.reasons.empty() && !req.justification && req.evidence.empty() && !t.get("reasons") && !t.get("evidence"))
      add(t, where, "requires nothing: give reasons, justification = true or evidence");
    p.requirements.push_back(std::move(req));
  }
}

void Reader::read_accumulation(const toml::table& doc, Policy& p) {
  const std::vector<const toml::table*> rules = tables(doc.get("accumulation"), "accumulation");
  std::set<std::string, std::less<>> names;
  for (std::size_t i = 0; i < rules.size(); ++i) {
    if (!rules[i]) continue;
    const toml::table& t = *rules[i];
    std::string where = "accumulation[" + std::to_string(i) + "]";
    Accumulation acc;
    if (auto name = text(t, "name", where + ".name", true)) {
      acc.name = *name;
      where += " (" + acc.name + ")";
      if (!names.insert(acc.name).second) add(*t.get("name"), where, "has the name of an earlier [[accumulation]]");
    }
    known_keys(t, where, {"name", "kinds", "per", "window_days", "threshold"});
    acc.kinds = kinds(t, "kinds", where + ".kinds", true);
    if (auto per = text(t, "per", where + ".per", true)) {
      if (*per == "customer") {
        acc.per = Accumulation::Per::customer;
      } else if (*per == "requester") {
        acc.per = Accumulation::Per::requester;
      } else {
        add(*t.get("per"), where + ".per", "must be \"customer\" or \"requester\", not " + quote(*per));
      }
    }
    if (auto days = integer(t, "window_days", where + ".window_days", 1, 3660, true)) acc.window_days = *days;
    if (auto threshold = amount(t, "threshold", where + ".threshold", true)) {
      if (threshold->sign() <= 0) {
        add(*t.get("threshold"), where + ".threshold", "must be a positive amount");
      } else {
        acc.threshold = *threshold;
      }
    }
    p.accumulation.push_back(std::move(acc));
  }
}

std::vector<Problem> read(std::string_view toml_text, Policy& p) {
  Reader reader;
  toml::table doc;
  try {
    doc = toml::parse(toml_text);
  } catch (const toml::parse_error& e) {
    std::ostringstream what;
    what << "the file does not parse at line " << e.source().begin.line << ", column " << e.source().begin.column
         << ": " << e.description();
    reader.add(e.source(), "", what.str());
    return reader.problems;
  }
  reader.read(doc, p);
  std::stable_sort(reader.problems.begin(), reader.problems.end(), [](const Problem& a, const Problem& b) {
    return a.line != b.line ? a.line < b.line : a.column < b.column;
  });
  return std::move(reader.problems);
}

}  // namespace

std::string to_string(const Problem& problem) {
  return "line " + std::to_string(problem.line) + ": " + (problem.where.empty() ? "" : problem.where + ": ") +
         problem.message;
}

bool Terms::draws_on_budget(concessions::Kind kind) const {
  return std::find(budget_kinds.begin(), budget_kinds.end(), kind) != budget_kinds.end();
}

std::string_view to_string(Outcome outcome) {
  switch (outcome) {
    case Outcome::auto_approved: return "auto_approved";
    case Outcome::needs_approval: return "needs_approval";
    case Outcome::blocked: return "blocked";
  }
  return "blocked";
}

std::vector<Problem> Policy::check(std::string_view toml_text) {
  Policy p;
  return read(toml_text, p);
}

Policy Policy::parse(std::string_view toml_text) {
  Policy p;
  const std::vector<Problem> problems = read(toml_text, p);
  if (problems.empty()) return p;
  std::string message = problems.size() == 1 ? "policy file has a problem:"
                                             : "policy file has " + std::to_string(problems.size()) + " problems:";
  for (const Problem& problem : problems) message += "\n" + to_string(problem);
  throw policy_error(message);
}

Policy Policy::load(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw io_error("can't read the policy file " + path);
  std::ostringstream text;
  text << in.rdbuf();
  return parse(text.str());
}

std::string Policy::evidence_type(std::string_view id) const {
  for (const auto& [type, prefixes] : evidence_types)
    for (const std::string& prefix : prefixes)
      if (id.starts_with(prefix)) return type;
  return {};
}

const Role* Policy::role(std::string_view name) const {
  for (const Role& r : roles)
    if (r.name == name) return &r;
  return nullptr;
}

std::vector<std::string> Policy::people_for(std::string_view role_name, Date on) const {
  std::vector<std::string> out;
  const Role* r = role(role_name);
  if (!r) return out;
  for (const std::string& person : r->people) {
    std::string acting = person;
    for (const Delegation& d : delegations)
      if (names::same_person(d.from, person) && !(on < d.start) && !(d.end < on)) acting = d.to;
    if (std::none_of(out.begin(), out.end(), [&](const std::string& o) { return names::same_person(o, acting); }))
      out.push_back(acting);
  }
  return out;
}

namespace {

bool applies(const Rule& rule, const RouteInput& request) {
  if (std::find(rule.kinds.begin(), rule.kinds.end(), request.kind) == rule.kinds.end()) return false;
  if (rule.over && !(*rule.over < request.amount)) return false;
  if (rule.up_to && *rule.up_to < request.amount) return false;
  return rule.tiers.empty() || std::find(rule.tiers.begin(), rule.tiers.end(), request.tier) != rule.tiers.end();
}

// The role that decides an exception: the one [exception_roles] names for
// it, else the exception role (empty: none).
const std::string& role_for(const Policy& policy, std::string_view code) {
  const auto named = policy.exception_roles.find(code);
  return named != policy.exception_roles.end() ? named->second : policy.exception_role;
}

// Whether someone decides each of the request's exceptions.
bool exceptions_decided(const Policy& policy, const RouteInput& request) {
  if (request.exception_codes.empty()) return !policy.exception_role.empty();
  return std::all_of(request.exception_codes.begin(), request.exception_codes.end(),
                     [&](const std::string& code) { return !role_for(policy, code).empty(); });
}

std::string band_text(const Rule& rule, Currency currency) {
  if (rule.over && rule.up_to)
    return "over " + amount_text(*rule.over, currency) + " up to " + amount_text(*rule.up_to, currency);
  if (rule.over) return "over " + amount_text(*rule.over, currency);
  if (rule.up_to) return "up to " + amount_text(*rule.up_to, currency);
  return "any amount";
}

// What would route a request no rule covers: a rule for the gap between the
// bands of its kind and tier, widening the rules on either side of the gap,
// or opening to its tier a rule whose band covers it.
std::string what_would_route(const Policy& policy, const RouteInput& request) {
  const Currency currency = policy.base_currency;
  const std::string kind(concessions::to_string(request.kind));
  std::optional<Decimal> floor, ceiling;
  const Rule *below = nullptr, *above = nullptr;
  std::vector<const Rule*> other_tiers;
  for (const Rule& rule : policy.rules) {
    if (std::find(rule.kinds.begin(), rule.kinds.end(), request.kind) == rule.kinds.end()) continue;
    const bool in_band = !(rule.over && !(*rule.over < request.amount)) && !(rule.up_to && *rule.up_to < request.amount);
    const bool for_tier =
        rule.tiers.empty() || std::find(rule.tiers.begin(), rule.tiers.end(), request.tier) != rule.tiers.end();
    if (!for_tier) {
      if (in_band) other_tiers.push_back(&rule);
      continue;
    }
    if (rule.up_to && *rule.up_to < request.amount && (!floor || *floor < *rule.up_to)) {
      floor = rule.up_to;
      below = &rule;
    }
    if (rule.over && !(*rule.over < request.amount) && (!ceiling || *rule.over < *ceiling)) {
      ceiling = rule.over;
      above = &rule;
    }
  }
  std::string out = "add a rule for " + kind + " requests";
  if (floor) out += " over " + amount_text(*floor, currency);
  if (ceiling) out += " up to " + amount_text(*ceiling, currency);
  out += " (tier " + request.tier + ")";
  for (const Rule* rule : {below, above})
    if (rule) out += ", or widen rule \"" + rule->name + "\" (" + band_text(*rule, currency) + ")";
  for (const Rule* rule : other_tiers) out += ", or add tier " + request.tier + " to rule \"" + rule->name + "\"";
  return out;
}

std::string steps_text(const std::vector<Step>& steps) {
  std::string out;
  for (const Step& s : steps) {
    std::string roles;
    for (const std::string& r : s.roles) roles += (roles.empty() ? "" : s.all_of ? " and " : " or ") + r;
    out += (out.empty() ? "" : ", then ") + roles;
  }
  return out;
}

// Each exception goes to the role the policy names for it, or to the
// exception role; one step per role, in the order the findings came, unless
// the rule's own steps already ask that role alone.
void add_exception_steps(const Policy& policy, const RouteInput& request, Route& result, bool also) {
  std::vector<std::pair<std::string, std::string>> extra;  // role, codes
  for (const std::string& code : request.exception_codes) {
    const std::string& role = role_for(policy, code);
    if (role.empty()) continue;
    auto at = std::find_if(extra.begin(), extra.end(), [&](const auto& e) { return e.first == role; });
    if (at == extra.end()) {
      extra.emplace_back(role, code);
    } else {
      at->second += ", " + code;
    }
  }
  if (request.has_exception && request.exception_codes.empty() && !policy.exception_role.empty())
    extra.emplace_back(policy.exception_role, "exceptions");
  for (const auto& [role, codes] : extra) {
    if (std::any_of(result.steps.begin(), result.steps.end(), [&](const Step& s) {
          return !s.all_of && s.roles.size() == 1 && s.roles[0] == role;
        }))
      continue;
    result.steps.push_back(Step{false, {role}, std::nullopt, {}});
    result.explanation.push_back("the request has exceptions (" + codes + "), so " + role + " approves it" +
                                 (also ? " too" : ""));
  }
}

}  // namespace

int match(const Policy& policy, const RouteInput& request) {
  int skipped = -1;  // the first auto-approve rule the request's exceptions kept from approving
  for (std::size_t i = 0; i < policy.rules.size(); ++i) {
    const Rule& rule = policy.rules[i];
    if (!applies(rule, request)) continue;
    if (rule.auto_approve && request.has_exception) {
      if (skipped < 0) skipped = static_cast<int>(i);
      continue;
    }
    return static_cast<int>(i);
  }
  return skipped >= 0 && exceptions_decided(policy, request) ? skipped : -1;
}

Route route(const Policy& policy, const RouteInput& request) {
  Route result;
  result.policy_version = policy.version;
  const std::string amount = amount_text(request.amount, policy.base_currency);
  const std::string kind(concessions::to_string(request.kind));
  std::string codes;
  for (const std::string& c : request.exception_codes) codes += (codes.empty() ? "" : ", ") + c;
  if (codes.empty()) codes = "exceptions";
  const Rule* skipped = nullptr;
  for (const Rule& rule : policy.rules) {
    const std::string head = "rule \"" + rule.name + "\"";
    if (std::find(rule.kinds.begin(), rule.kinds.end(), request.kind) == rule.kinds.end()) {
      result.explanation.push_back(head + " does not apply: it is not for " + kind + " requests");
      continue;
    }
    if (rule.over && !(*rule.over < request.amount)) {
      result.explanation.push_back(head + " does not apply: " + amount + " is not over " +
                                   amount_text(*rule.over, policy.base_currency));
      continue;
    }
    if (rule.up_to && *rule.up_to < request.amount) {
      result.explanation.push_back(head + " does not apply: " + amount + " is over its ceiling of " +
                                   amount_text(*rule.up_to, policy.base_currency));
      continue;
    }
    if (!rule.tiers.empty() && std::find(rule.tiers.begin(), rule.tiers.end(), request.tier) == rule.tiers.end()) {
      result.explanation.push_back(head + " does not apply: it is not for tier " + request.tier);
      continue;
    }
    if (rule.auto_approve && request.has_exception) {
      result.explanation.push_back(head + " would auto-approve, but the request has exceptions (" + codes +
                                   "), which need people");
      if (!skipped) skipped = &rule;
      continue;
    }
    result.rule = rule.name;
    if (rule.auto_approve) {
      result.outcome = Outcome::auto_approved;
      result.explanation.push_back(head + " matches: a " + kind + " request of " + amount +
                                   " in policy is approved automatically");
      return result;
    }
    result.outcome = Outcome::needs_approval;
    result.steps = rule.steps;
    result.explanation.push_back(head + " matches: a " + kind + " request of " + amount + " (tier " + request.tier +
                                 ") needs " + steps_text(rule.steps));
    add_exception_steps(policy, request, result, true);
    return result;
  }
  result.outcome = Outcome::blocked;
  if (skipped) {
    // No rule for people covers it: the auto-approve rule that would have
    // approved it sends it to the roles that decide its exceptions.
    const std::string head = "rule \"" + skipped->name + "\"";
    if (exceptions_decided(policy, request)) {
      result.outcome = Outcome::needs_approval;
      result.rule = skipped->name;
      result.explanation.push_back(head + " routes it: no rule for people covers a " + kind + " request of " + amount +
                                   " (tier " + request.tier + "), so the roles that decide its exceptions approve it");
      add_exception_steps(policy, request, result, false);
      return result;
    }
    std::string undecided;
    for (const std::string& c : request.exception_codes)
      if (role_for(policy, c).empty()) undecided += (undecided.empty() ? "" : ", ") + c;
    result.reason = head + " would auto-approve a " + kind + " request of " + amount + " (tier " + request.tier +
                    "), but the request has exceptions (" + codes + ") and policy " + policy.version +
                    " names no role to decide " + (undecided.empty() ? "them" : undecided) +
                    "; it is blocked, not approved. To route it: " +
                    (undecided.empty() ? "set exception_role"
                                       : "name a role for " + undecided + " in [exception_roles] or set exception_role") +
                    ", or " + what_would_route(policy, request) + " that people approve";
  } else {
    result.reason = "no rule of policy " + policy.version + " covers a " + kind + " request of " + amount + " (tier " +
                    request.tier + "); it is blocked, not approved. To route it: " + what_would_route(policy, request);
  }
  result.explanation.push_back(result.reason);
  return result;
}

}  // namespace amends::policy
