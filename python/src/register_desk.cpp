// amends._core: the concession desk (amends.Desk wraps it) and its store.
#include <pybind11/stl.h>

#include "amends/checkpoint.hpp"
#include "amends/desk.hpp"
#include "amends/desk_store.hpp"
#include "convert.hpp"

namespace amends::python {

namespace {

using desk::Desk;
using desk::RequestRecord;

py::object money_or_none(const std::optional<Money>& m) {
  if (!m) return py::none();
  return to_python(m->amount(), m->currency());
}

template <class T>
T get(const py::dict& d, const char* key, T fallback) {
  if (!d.contains(key) || d[key].is_none()) return fallback;
  return d[key].cast<T>();
}

std::optional<Money> money_of(const py::dict& d, const char* key, Currency currency) {
  if (!d.contains(key) || d[key].is_none()) return std::nullopt;
  return Money(to_decimal(d[key], key), currency);
}

requests::RequestContent content_of(const py::dict& d) {
  requests::RequestContent c;
  for (auto item : d) {
    static const char* known[] = {"kind", "customer", "tier", "customer_value", "amount", "currency", "reason",
                                  "justification", "evidence", "requester", "team", "service_period", "period_fee",
                                  "availability", "charge", "discount", "monthly_fee", "months", "changes_contract",
                                  "override_reason"};
    const std::string key = py::str(item.first);
    if (std::find_if(std::begin(known), std::end(known), [&](const char* k) { return key == k; }) == std::end(known))
      throw invalid_argument("a request has no field \"" + key + "\"");
  }
  if (!d.contains("kind")) throw invalid_argument("a request names its kind");
  c.kind = concessions::parse_kind(to_utf8(d["kind"], "kind"));
  c.currency = d.contains("currency") && !d["currency"].is_none() ? to_currency(d["currency"]) : Currency::of("USD");
  c.customer.id = get<std::string>(d, "customer", "");
  c.customer.tier = get<std::string>(d, "tier", "");
  c.customer.value = money_of(d, "customer_value", c.currency);
  c.amount = money_of(d, "amount", c.currency);
  c.reason_code = get<std::string>(d, "reason", "");
  c.justification = get<std::string>(d, "justification", "");
  c.evidence = get<std::vector<std::string>>(d, "evidence", {});
  c.requester = get<std::string>(d, "requester", "");
  c.team = get<std::string>(d, "team", "");
  if (d.contains("service_period") && !d["service_period"].is_none()) c.service_period = to_period(d["service_period"]);
  c.claim.period_fee = money_of(d, "period_fee", c.currency);
  if (d.contains("availability") && !d["availability"].is_none())
    c.claim.measured_availability = to_decimal(d["availability"], "availability");
  c.claim.original_transaction = get<std::string>(d, "charge", "");
  if (d.contains("discount") && !d["discount"].is_none()) c.claim.discount = to_decimal(d["discount"], "discount");
  c.claim.monthly_fee = money_of(d, "monthly_fee", c.currency);
  c.claim.months = get<int>(d, "months", 0);
  c.claim.changes_contract = get<bool>(d, "changes_contract", false);
  c.claim.override_reason = get<std::string>(d, "override_reason", "");
  return c;
}

// The fields an amendment names (as submit's); every other keeps its value.
requests::RequestChanges changes_of(const py::dict& d) {
  static const char* known[] = {"kind", "customer", "tier", "customer_value", "amount", "currency", "reason",
                                "justification", "evidence", "requester", "team", "service_period", "period_fee",
                                "availability", "charge", "discount", "monthly_fee", "months", "changes_contract",
                                "override_reason"};
  for (auto item : d) {
    const std::string key = py::str(item.first);
    if (std::find_if(std::begin(known), std::end(known), [&](const char* k) { return key == k; }) == std::end(known))
      throw invalid_argument("a request has no field \"" + key + "\"");
  }
  requests::RequestChanges c;
  auto text = [&](const char* key, std::optional<std::string>& out) {
    if (d.contains(key)) out = d[key].is_none() ? std::string() : to_utf8(d[key], key);
  };
  auto decimal = [&](const char* key, std::optional<std::optional<Decimal>>& out) {
    if (d.contains(key)) out = d[key].is_none() ? std::optional<Decimal>() : std::optional<Decimal>(to_decimal(d[key], key));
  };
  if (d.contains("kind")) c.kind = concessions::parse_kind(to_utf8(d["kind"], "kind"));
  text("requester", c.requester);
  text("customer", c.customer);
  text("tier", c.tier);
  text("reason", c.reason_code);
  text("justification", c.justification);
  text("team", c.team);
  text("charge", c.original_transaction);
  text("override_reason", c.override_reason);
  decimal("customer_value", c.customer_value);
  decimal("amount", c.amount);
  decimal("period_fee", c.period_fee);
  decimal("availability", c.measured_availability);
  decimal("discount", c.discount);
  decimal("monthly_fee", c.monthly_fee);
  if (d.contains("currency") && !d["currency"].is_none()) c.currency = to_currency(d["currency"]);
  if (d.contains("evidence"))
    c.evidence = d["evidence"].is_none() ? std::vector<std::string>{} : d["evidence"].cast<std::vector<std::string>>();
  if (d.contains("service_period"))
    c.service_period = d["service_period"].is_none() ? std::optional<Period>() : std::optional<Period>(to_period(d["service_period"]));
  if (d.contains("months")) c.months = d["months"].is_none() ? 0 : d["months"].cast<int>();
  if (d.contains("changes_contract")) c.changes_contract = !d["changes_contract"].is_none() && d["changes_contract"].cast<bool>();
  return c;
}

// ---------------------------------------------------------------- value classes
//
// amends.Request and amends.Utilisation are these classes: the core's values
// read through read-only properties that return Python values (Decimal
// amounts with their currency's minor digits, timezone-aware UTC datetimes,
// lists; the nested steps, approvals, findings and history entries as dicts).
// Each class lists its fields once, in `_fields`; equality and repr follow it.

// A request as the desk holds it now, with the book's base currency.
struct RequestView {
  RequestRecord record;
  Currency base;
};

// Microseconds since the epoch as a timezone-aware UTC datetime.
py::object utc(requests::Timestamp micros) {
  static py::handle epoch, timedelta;
  if (!timedelta) {
    py::module_ datetime = py::module_::import("datetime");
    epoch = datetime.attr("datetime")(1970, 1, 1, py::arg("tzinfo") = datetime.attr("timezone").attr("utc")).release();
    timedelta = py::object(datetime.attr("timedelta")).release();
  }
  return epoch.attr("__add__")(timedelta(py::arg("microseconds") = micros));
}

py::object str_or_none(const std::string& text) { return text.empty() ? py::object(py::none()) : py::object(py::str(text)); }

template <class T>
struct Field {
  const char* name;
  py::object (*get)(const T&);
  bool in_repr = true;
};

py::list findings_of(const RequestRecord& r) {
  py::list findings;
  for (const auto& f : r.assessment.findings) {
    py::dict fd;
    fd["code"] = f.code;
    fd["severity"] = std::string(concessions::to_string(f.severity));
    fd["message"] = f.message;
    findings.append(fd);
  }
  return findings;
}

py::list steps_of(const RequestRecord& r) {
  py::list steps;
  if (!r.chain) return steps;
  for (std::size_t i = 0; i < r.chain->steps().size(); ++i) {
    const auto& s = r.chain->steps()[i];
    py::dict sd;
    sd["roles"] = s.step.roles;
    sd["all_of"] = s.step.all_of;
    sd["done"] = s.done;
    sd["current"] = i == r.chain->current_step();
    sd["escalated"] = s.escalated;
    py::list approvals;
    for (const auto& a : s.approvals) {
      py::dict ad;
      ad["person"] = a.person;
      ad["role"] = a.role;
      ad["at"] = utc(a.at);
      ad["comment"] = a.comment;
      ad["as_delegate"] = a.as_delegate;
      approvals.append(ad);
    }
    sd["approvals"] = approvals;
    steps.append(sd);
  }
  return steps;
}

py::list history_of(const RequestRecord& r) {
  py::list history;
  for (const auto& t : r.request.history()) {
    py::dict td;
    td["at"] = utc(t.at);
    td["actor"] = t.actor;
    td["action"] = std::string(requests::to_string(t.action));
    td["from"] = std::string(requests::to_string(t.from));
    td["to"] = std::string(requests::to_string(t.to));
    td["comment"] = t.comment;
    history.append(td);
  }
  return history;
}

using RV = RequestView;
const requests::RequestContent& content(const RV& v) { return v.record.request.content(); }

const std::vector<Field<RV>>& request_fields() {
  static const std::vector<Field<RV>> fields = {
      {"id", [](const RV& v) -> py::object { return py::str(v.record.id()); }},
      {"kind", [](const RV& v) -> py::object { return py::str(std::string(concessions::to_string(content(v).kind))); }},
      {"state", [](const RV& v) -> py::object { return py::str(std::string(requests::to_string(v.record.state()))); }},
      {"version", [](const RV& v) -> py::object { return py::int_(v.record.request.version()); }},
      {"customer", [](const RV& v) -> py::object { return py::str(content(v).customer.id); }},
      {"tier", [](const RV& v) -> py::object { return py::str(content(v).customer.tier); }},
      {"requester", [](const RV& v) -> py::object { return py::str(content(v).requester); }},
      {"team", [](const RV& v) -> py::object { return py::str(content(v).team); }},
      {"reason", [](const RV& v) -> py::object { return py::str(content(v).reason_code); }},
      {"justification", [](const RV& v) -> py::object { return py::str(content(v).justification); }},
      {"evidence", [](const RV& v) -> py::object { return py::cast(content(v).evidence); }},
      {"requested", [](const RV& v) -> py::object { return money_or_none(content(v).amount); }},
      {"amount", [](const RV& v) -> py::object { return money_or_none(v.record.amount); }},
      {"currency",
       [](const RV& v) -> py::object {
         return py::str(std::string((v.record.amount ? v.record.amount->currency() : content(v).currency).code()));
       }},
      {"base_amount", [](const RV& v) -> py::object { return to_python(v.record.base_amount, v.base); }},
      {"conversion", [](const RV& v) -> py::object { return py::str(v.record.conversion); }},
      {"service_period",
       [](const RV& v) -> py::object {
         return content(v).service_period ? py::object(py::str(content(v).service_period->to_string())) : py::none();
       }},
      {"policy_version", [](const RV& v) -> py::object { return str_or_none(v.record.policy_version); }},
      {"outcome",
       [](const RV& v) -> py::object {
         return v.record.policy_version.empty() ? py::object(py::none())
                                                : py::object(py::str(policy::to_string(v.record.route.outcome)));
       }},
      {"rule", [](const RV& v) -> py::object { return str_or_none(v.record.route.rule); }},
      {"blocked", [](const RV& v) -> py::object { return str_or_none(v.record.blocked); }},
      {"incomplete", [](const RV& v) -> py::object { return str_or_none(v.record.incomplete); }},
      {"findings", [](const RV& v) -> py::object { return findings_of(v.record); }},
      {"steps", [](const RV& v) -> py::object { return steps_of(v.record); }},
      {"reservation",
       [](const RV& v) -> py::object {
         return v.record.reservation ? py::object(py::int_(v.record.reservation.value)) : py::none();
       }},
      {"entries",
       [](const RV& v) -> py::object {
         py::list entries;
         for (EntryId e : v.record.entries) entries.append(e.value);
         return entries;
       }},
      {"posting_period",
       [](const RV& v) -> py::object {
         return v.record.posting_period ? py::object(py::str(v.record.posting_period->to_string())) : py::none();
       }},
      {"out_of_period", [](const RV& v) -> py::object { return py::bool_(v.record.out_of_period); }},
      {"accrued", [](const RV& v) -> py::object { return py::bool_(v.record.accrued); }},
      {"alternatives", [](const RV& v) -> py::object { return py::cast(v.record.alternatives); }},
      {"history", [](const RV& v) -> py::object { return history_of(v.record); }, false},
      {"created_at", [](const RV& v) -> py::object { return utc(v.record.request.created_at()); }, false},
  };
  return fields;
}

using U = desk::Utilisation;
const std::vector<Field<U>>& utilisation_fields() {
  static const std::vector<Field<U>> fields = {
      {"owner", [](const U& u) -> py::object { return py::str(u.owner); }},
      {"kind", [](const U& u) -> py::object { return py::str(u.kind); }},
      {"period", [](const U& u) -> py::object { return py::str(u.period.to_string()); }},
      {"currency", [](const U& u) -> py::object { return py::str(std::string(u.currency.code())); }},
      {"hard", [](const U& u) -> py::object { return py::bool_(u.hard); }},
      {"allocated", [](const U& u) -> py::object { return to_python(u.allocated, u.currency); }},
      {"reserved", [](const U& u) -> py::object { return to_python(u.reserved, u.currency); }},
      {"consumed", [](const U& u) -> py::object { return to_python(u.consumed, u.currency); }},
      {"available", [](const U& u) -> py::object { return to_python(u.available, u.currency); }},
  };
  return fields;
}

// Read-only properties for `fields`, `_fields`, and equality and repr over them
// (as a frozen dataclass has: equal when every field is; unhashable).
template <class T>
void def_fields(py::class_<T>& cls, const char* name, const std::vector<Field<T>>& fields) {
  py::tuple names(fields.size());
  for (std::size_t i = 0; i < fields.size(); ++i) {
    names[i] = py::str(fields[i].name);
    cls.def_property_readonly(fields[i].name, fields[i].get);
  }
  cls.attr("_fields") = names;
  cls.def("__eq__", [&fields](const T& a, py::object other) -> py::object {
    if (!py::isinstance<T>(other)) return py::reinterpret_borrow<py::object>(Py_NotImplemented);
    const T& b = other.cast<const T&>();
    for (const auto& f : fields)
      if (!f.get(a).equal(f.get(b))) return py::bool_(false);
    return py::bool_(true);
  });
  cls.attr("__hash__") = py::none();
  cls.def("__repr__", [&fields, name](const T& value) {
    std::string out = std::string(name) + "(";
    bool first = true;
    for (const auto& f : fields) {
      if (!f.in_repr) continue;
      out += (first ? "" : ", ") + std::string(f.name) + "=" + std::string(py::repr(f.get(value)));
      first = false;
    }
    return out + ")";
  });
}

RequestView view(const Desk& desk, const RequestRecord& r) { return RequestView{r, desk.book().config().base_currency}; }

py::dict verification_dict(const requests::AuditTrail::Verification& v, std::size_t events) {
  py::dict d;
  d["ok"] = v.ok;
  d["events"] = events;
  d["first_bad"] = v.ok ? py::object(py::none()) : py::object(py::int_(v.first_bad));
  d["problem"] = v.problem;
  return d;
}

// A checkpoint {book, seq, hash, at_micros, ...} as the core's.
checkpoint::Checkpoint checkpoint_of(const py::dict& d, bool signed_ = true) {
  for (const char* key : {"book", "seq", "hash", "at_micros", "signature"})
    if (!d.contains(key) && (signed_ || std::string_view(key) != "signature")) throw invalid_argument(std::string("a checkpoint has a ") + key + "; this one has none");
  checkpoint::Checkpoint c;
  try {
    c.book = d["book"].cast<std::string>();
    c.sequence = d["seq"].cast<std::uint64_t>();
    c.at = d["at_micros"].cast<std::int64_t>();
    if (signed_) d["signature"].cast<std::string>();
    d["hash"].cast<std::string>();
  } catch (const py::cast_error&) {
    throw invalid_argument("a checkpoint's book, hash and signature are strings, its seq and at_micros integers (seq 1 or more)");
  }
  if (c.sequence == 0) throw invalid_argument("a checkpoint's seq is 1 or more");
  c.hash = checkpoint::parse_hash(d["hash"].cast<std::string>(), "a checkpoint's hash");
  return c;
}

}  // namespace

void register_desk(py::module_& m) {
  py::object amends_error = m.attr("AmendsError");
  static PyObject* budget_exceeded_class = PyErr_NewExceptionWithDoc(
      "amends.BudgetExceeded", "No budget, or not enough of a hard one, for an approval.",
      m.attr("BalanceLimitExceeded").ptr(), nullptr);
  m.add_object("BudgetExceeded", py::reinterpret_borrow<py::object>(budget_exceeded_class));
  static PyObject* not_found_class = PyErr_NewExceptionWithDoc(
      "amends.NotFound", "No request, charge, budget or policy version of that name.",
      py::make_tuple(amends_error, py::module_::import("builtins").attr("LookupError")).ptr(), nullptr);
  m.add_object("NotFound", py::reinterpret_borrow<py::object>(not_found_class));
  static PyObject* request_state_class = PyErr_NewExceptionWithDoc(
      "amends.RequestStateError", "A request moved in a way its lifecycle does not allow.", amends_error.ptr(), nullptr);
  m.add_object("RequestStateError", py::reinterpret_borrow<py::object>(request_state_class));
  static PyObject* close_refused_class = PyErr_NewExceptionWithDoc(
      "amends.CloseRefused", "A period close that would strand approved, unapplied concessions.", amends_error.ptr(),
      nullptr);
  m.add_object("CloseRefused", py::reinterpret_borrow<py::object>(close_refused_class));
  py::register_exception_translator([](std::exception_ptr failure) {
    try {
      if (failure) std::rethrow_exception(failure);
    } catch (const budget_exceeded& e) {
      PyErr_SetString(budget_exceeded_class, e.what());
    } catch (const not_found& e) {
      PyErr_SetString(not_found_class, e.what());
    } catch (const request_state_error& e) {
      PyErr_SetString(request_state_class, e.what());
    } catch (const close_refused& e) {
      PyErr_SetString(close_refused_class, e.what());
    }
  });

  py::class_<RequestView> request(m, "Request", "A concession request as the desk holds it now (read-only).");
  def_fields(request, "Request", request_fields());
  py::class_<desk::Utilisation> utilisation(m, "Utilisation", "A budget: allocated, reserved, consumed and available.");
  def_fields(utilisation, "Utilisation", utilisation_fields());
  py::tuple kinds(concessions::kinds.size());
  for (std::size_t i = 0; i < concessions::kinds.size(); ++i)
    kinds[i] = py::str(std::string(concessions::to_string(concessions::kinds[i])));
  m.attr("KINDS") = kinds;

  py::class_<Desk>(m, "_Desk", "The concession desk of a ledger (amends.Desk wraps it).")
      .def(py::init<Ledger&>(), py::arg("ledger"), py::keep_alive<1, 2>())
      .def(
          "publish_policy",
          [](Desk& d, const std::string& text, const std::string& actor, requests::Timestamp at) {
            return d.publish_policy(text, actor, at).version;
          },
          py::arg("text"), py::arg("actor"), py::arg("at"))
      .def_property_readonly("policy_version", [](const Desk& d) { return d.policy().version; })
      .def("policy_versions", [](const Desk& d) { return d.policy_order(); })
      .def("policy_text", [](const Desk& d, const std::string& v) { return d.policy_texts().at(v); }, py::arg("version"))
      .def(
          "set_rate",
          [](Desk& d, py::handle currency, py::handle day, py::handle rate) {
            d.set_rate(to_currency(currency), to_date(day, "day"), to_decimal(rate, "rate"));
          },
          py::arg("currency"), py::arg("day"), py::arg("rate"))
      .def(
          "to_base",
          [](const Desk& d, py::handle amount, py::handle currency, py::handle day) {
            const Money m = d.to_base(Money(to_decimal(amount), to_currency(currency)), to_date(day, "day"));
            return to_python(m.amount(), m.currency());
          },
          py::arg("amount"), py::arg("currency"), py::arg("day"))
      .def(
          "record_charge",
          [](Desk& d, const std::string& id, const std::string& customer, py::handle amount, py::handle currency,
             py::handle day, py::handle refunded) {
            d.record_charge(desk::Charge{id, customer, Money(to_decimal(amount), to_currency(currency)),
                                         to_date(day, "day"), refunded.is_none() ? Decimal() : to_decimal(refunded, "refunded")});
          },
          py::arg("id"), py::arg("customer"), py::arg("amount"), py::arg("currency"), py::arg("day"),
          py::arg("refunded") = py::none())
      .def(
          "allocate",
          [](Desk& d, const std::string& owner, const std::string& kind, py::handle period, py::handle amount, bool hard,
             py::handle on, const std::string& actor, std::optional<requests::Timestamp> at) {
            return d.allocate(owner, concessions::parse_kind(kind), to_period(period), to_decimal(amount), hard,
                              to_date(on, "on"), actor, at).value;
          },
          py::arg("owner"), py::arg("kind"), py::arg("period"), py::arg("amount"), py::arg("hard"), py::arg("on"),
          py::arg("actor") = "amends", py::arg("at") = py::none())
      .def(
          "utilisation",
          [](const Desk& d, const std::string& owner, const std::string& kind, py::handle period) {
            return py::cast(d.utilisation(owner, concessions::parse_kind(kind), to_period(period)));
          },
          py::arg("owner"), py::arg("kind"), py::arg("period"))
      .def("budgets",
           [](const Desk& d) {
             py::list out;
             for (const auto& u : d.budgets()) out.append(py::cast(u));
             return out;
           })
      .def(
          "submit",
          [](Desk& d, const py::dict& content, requests::Timestamp at, bool submit, const std::string& id) {
            return view(d, d.submit(content_of(content), at, submit, id));
          },
          py::arg("content"), py::arg("at"), py::arg("submit") = true, py::arg("id") = "")
      .def(
          "amend",
          [](Desk& d, const std::string& id, const py::dict& changes, const std::string& actor, requests::Timestamp at) {
            return view(d, d.amend(id, changes_of(changes), actor, at));
          },
          py::arg("id"), py::arg("changes"), py::arg("actor"), py::arg("at"))
      .def(
          "resubmit",
          [](Desk& d, const std::string& id, const std::string& actor, requests::Timestamp at) {
            return view(d, d.resubmit(id, actor, at));
          },
          py::arg("id"), py::arg("actor"), py::arg("at"))
      .def(
          "approve",
          [](Desk& d, const std::string& id, const std::string& person, requests::Timestamp at, const std::string& comment) {
            return view(d, d.approve(id, person, at, comment));
          },
          py::arg("id"), py::arg("person"), py::arg("at"), py::arg("comment") = "")
      .def(
          "decline",
          [](Desk& d, const std::string& id, const std::string& person, requests::Timestamp at, const std::string& comment,
             std::vector<std::string> alternatives) {
            return view(d, d.decline(id, person, at, comment, std::move(alternatives)));
          },
          py::arg("id"), py::arg("person"), py::arg("at"), py::arg("comment"), py::arg("alternatives") = std::vector<std::string>{})
      .def(
          "return_for_information",
          [](Desk& d, const std::string& id, const std::string& person, requests::Timestamp at, const std::string& comment) {
            return view(d, d.return_for_information(id, person, at, comment));
          },
          py::arg("id"), py::arg("person"), py::arg("at"), py::arg("comment"))
      .def(
          "cancel",
          [](Desk& d, const std::string& id, const std::string& actor, requests::Timestamp at, const std::string& reason) {
            return view(d, d.cancel(id, actor, at, reason));
          },
          py::arg("id"), py::arg("actor"), py::arg("at"), py::arg("reason"))
      .def(
          "expire",
          [](Desk& d, const std::string& id, requests::Timestamp at, const std::string& reason) {
            return view(d, d.expire(id, at, reason));
          },
          py::arg("id"), py::arg("at"), py::arg("reason"))
      .def(
          "apply",
          [](Desk& d, const std::string& id, const std::string& actor, requests::Timestamp at) {
            return view(d, d.apply(id, actor, at));
          },
          py::arg("id"), py::arg("actor"), py::arg("at"))
      .def(
          "approve_and_apply",
          [](Desk& d, const std::vector<std::tuple<std::string, std::string>>& approvals, const std::string& actor,
             requests::Timestamp at) {
            // For bulk work: each request approved by its person, then applied.
            for (const auto& [id, person] : approvals) {
              d.approve(id, person, at);
              if (d.get(id).state() == requests::State::approved) d.apply(id, actor, at);
            }
          },
          py::arg("approvals"), py::arg("actor"), py::arg("at"))
      .def(
          "reconcile",
          [](Desk& d, const std::string& id, const std::string& actor, requests::Timestamp at, const std::string& reference) {
            return view(d, d.reconcile(id, actor, at, reference));
          },
          py::arg("id"), py::arg("actor"), py::arg("at"), py::arg("reference"))
      .def(
          "find_run",
          [](const Desk& d, const std::string& sha) -> py::object {
            const desk::ReconciliationRun* r = d.find_run(sha);
            if (!r) return py::none();
            return py::int_(r->id);
          },
          py::arg("inputs_sha256"))
      .def("runs",
           [](const Desk& d) {
             py::list out;
             for (const auto& r : d.runs()) {
               py::dict rd;
               rd["id"] = r.id;
               rd["source"] = r.source;
               rd["first"] = to_python(r.first);
               rd["last"] = to_python(r.last);
               rd["parameters"] = r.parameters;
               rd["inputs_sha256"] = r.inputs_sha256;
               rd["summary"] = r.summary;
               rd["exceptions"] = r.exceptions;
               rd["at"] = r.at;
               rd["actor"] = r.actor;
               out.append(rd);
             }
             return out;
           })
      .def("escalate_due", &Desk::escalate_due, py::arg("now"))
      .def(
          "close_period",
          [](Desk& d, py::handle period, const std::string& actor, requests::Timestamp at, bool accrue) {
            const desk::CloseReport r = d.close_period(to_period(period), actor, at, accrue);
            py::dict out;
            out["period"] = r.period.to_string();
            py::list posted;
            for (const auto& k : r.posted) {
              py::dict kd;
              kd["kind"] = k.kind;
              kd["count"] = k.count;
              kd["amount"] = to_python(k.amount, d.book().config().base_currency);
              posted.append(kd);
            }
            out["posted"] = posted;
            out["accrued"] = r.accrued;
            out["out_of_period"] = r.out_of_period;
            out["in_flight"] = r.in_flight;
            py::list budgets;
            for (const auto& u : r.budgets) budgets.append(py::cast(u));
            out["budgets"] = budgets;
            out["text"] = r.text();
            return out;
          },
          py::arg("period"), py::arg("actor"), py::arg("at"), py::arg("accrue") = false)
      .def("get", [](const Desk& d, const std::string& id) { return view(d, d.get(id)); }, py::arg("id"))
      .def("contains", &Desk::contains, py::arg("id"))
      .def(
          "ids",
          [](const Desk& d, const std::string& state) {
            std::vector<std::string> out;
            for (const auto& [id, r] : d.records())
              if (state.empty() || requests::to_string(r.state()) == state) out.push_back(id);
            return out;
          },
          py::arg("state") = "")
      .def(
          "pending_for", [](const Desk& d, const std::string& person, py::handle on) { return d.pending_for(person, to_date(on, "on")); },
          py::arg("person"), py::arg("on"))
      .def(
          "waiting_for",
          [](const Desk& d, const std::string& id, py::handle on) {
            const RequestRecord& r = d.get(id);
            return r.chain && r.state() == requests::State::pending_approval ? r.chain->waiting_for(to_date(on, "on"))
                                                                             : std::vector<std::string>{};
          },
          py::arg("id"), py::arg("on"))
      .def("explain", &Desk::explain, py::arg("id"))
      .def("check_records",
           [](const Desk& d) {
             py::list out;
             for (const auto& f : d.check_records()) {
               py::dict fd;
               fd["request"] = f.request;
               fd["problem"] = f.problem;
               out.append(fd);
             }
             return out;
           })
      .def("audit_events",
           [](const Desk& d) {
             std::vector<std::tuple<std::uint64_t, requests::Timestamp, std::string, std::string, std::string, std::string, std::string>> out;
             for (const auto& e : d.audit().events())
               out.emplace_back(e.sequence, e.at, e.actor, e.request, e.event, e.details, requests::to_hex(e.hash));
             return out;
           })
      .def("verify_audit",
           [](const Desk& d) {
             return verification_dict(requests::AuditTrail::verify(d.audit().events()), d.audit().events().size());
           })
      .def("outbox", [](const Desk& d) {
        py::list out;
        for (const auto& n : d.outbox()) {
          py::dict nd;
          nd["id"] = n.id;
          nd["request"] = n.request;
          nd["event"] = n.event;
          nd["customer"] = n.customer;
          nd["subject"] = n.subject;
          nd["body"] = n.body;
          nd["created_at"] = n.created_at;
          out.append(nd);
        }
        return out;
      });

  py::class_<store::DeskStore>(m, "_DeskStore", "Keeps a desk in step with its book in PostgreSQL.")
      .def(py::init([](store::Book& book, Desk& desk) {
             py::gil_scoped_release release;
             return std::make_unique<store::DeskStore>(book, desk);
           }),
           py::arg("store"), py::arg("desk"), py::keep_alive<1, 2>(), py::keep_alive<1, 3>());

  m.def(
      "verify_audit",
      [](const std::string& dsn, const std::string& book, const py::object& checkpoint, const py::object& key,
         bool records) {
        std::optional<checkpoint::Checkpoint> cp;
        if (!checkpoint.is_none()) {
          if (key.is_none()) throw invalid_argument("verifying against a checkpoint needs the key it was signed with");
          cp = checkpoint_of(checkpoint.cast<py::dict>());
          checkpoint::check(*cp, key.cast<std::string>(), checkpoint["signature"].cast<std::string>());
        }
        std::size_t events = 0;
        store::AuditVerification v;
        {
          py::gil_scoped_release release;
          v = store::verify_audit(dsn, book, &events, cp ? &*cp : nullptr, records);
        }
        py::dict d = verification_dict(v, events);
        d["kind"] = v.kind;
        d["last_hash"] = v.events ? py::object(py::str(requests::to_hex(v.last_hash))) : py::object(py::none());
        d["head"] = v.head ? py::object(py::int_(v.head)) : py::object(py::none());
        d["anchored"] = v.anchored;
        d["checkpoint"] = v.checkpoint ? py::object(py::int_(v.checkpoint)) : py::object(py::none());
        if (records) {
          py::list findings;
          for (const auto& f : v.findings) {
            py::dict fd;
            fd["request"] = f.request;
            fd["problem"] = f.problem;
            findings.append(fd);
          }
          d["findings"] = findings;
        }
        return d;
      },
      py::arg("dsn"), py::arg("book"), py::arg("checkpoint") = py::none(), py::arg("key") = py::none(),
      py::arg("records") = false,
      "Reads a book's audit trail afresh from PostgreSQL and verifies its hash chain, its head and its request "
      "anchors; given a checkpoint (whose signature must verify under key), that the event it names still has its hash; "
      "with records, when it verifies, also checks every request record (findings).");
  m.def(
      "sign_checkpoint",
      [](const py::dict& checkpoint, const py::bytes& key) { return checkpoint::sign(checkpoint_of(checkpoint, false), std::string(key)); },
      py::arg("checkpoint"), py::arg("key"),
      "The HMAC-SHA256 signature (hex) of a checkpoint {book, seq, hash, at_micros} under key.");
  m.def(
      "check_checkpoint",
      [](const py::dict& checkpoint, const py::bytes& key) {
        checkpoint::check(checkpoint_of(checkpoint), std::string(key), checkpoint["signature"].cast<std::string>());
      },
      py::arg("checkpoint"), py::arg("key"), "Raises InvalidArgument unless the checkpoint's signature verifies under key.");
}

}  // namespace amends::python
