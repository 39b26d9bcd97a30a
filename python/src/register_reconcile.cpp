// amends._core: the reconciliation matching engine over numpy columns, its
// report (reasons, corrections, summary), a run's checksum and recording
// (amends.reconcile wraps them), and the names of its enums.
#include <pybind11/numpy.h>
#include <memory>
#include <type_traits>
#include <pybind11/stl.h>

#include "amends/desk.hpp"
#include "amends/reconcile.hpp"
#include "amends/reconcile_report.hpp"
#include "amends/reconcile_run.hpp"
#include "convert.hpp"

namespace amends::python {

namespace {

template <class T>
using Column = py::array_t<T, py::array::c_style | py::array::forcecast>;

template <class T>
std::span<const T> span_of(const Column<T>& a) {
  return {a.data(), static_cast<std::size_t>(a.size())};
}

struct Columns {
  Column<std::int64_t> id, reference, customer, amount;
  Column<std::int32_t> currency, day;
  Column<std::uint8_t> status;
};

Columns columns_of(const py::dict& d, bool billing) {
  auto get = [&](const char* key) -> py::object {
    if (!d.contains(key)) throw invalid_argument(std::string("the ") + (billing ? "billing" : "ledger") + " columns need " + key);
    return d[key];
  };
  Columns c;
  c.id = Column<std::int64_t>::ensure(get("id"));
  c.customer = Column<std::int64_t>::ensure(get("customer"));
  c.amount = Column<std::int64_t>::ensure(get("amount_minor"));
  c.currency = Column<std::int32_t>::ensure(get("currency"));
  c.day = Column<std::int32_t>::ensure(get("day"));
  if (billing) {
    c.reference = Column<std::int64_t>::ensure(get("reference"));
    c.status = Column<std::uint8_t>::ensure(get("status"));
  }
  if (!c.id || !c.customer || !c.amount || !c.currency || !c.day || (billing && (!c.reference || !c.status)))
    throw invalid_argument("reconciliation columns are integer arrays");
  return c;
}

reconcile::Items items_of(const Columns& c, bool billing) {
  reconcile::Items items;
  items.id = span_of(c.id);
  items.customer = span_of(c.customer);
  items.amount = span_of(c.amount);
  items.currency = span_of(c.currency);
  items.day = span_of(c.day);
  if (billing) {
    items.reference = span_of(c.reference);
    items.status = span_of(c.status);
  }
  return items;
}

// A result column handed to numpy without a copy: the array owns the vector.
template <class T>
py::array to_numpy(reconcile::Values<T>&& values) {
  using Out = std::conditional_t<std::is_enum_v<T>, std::uint8_t, T>;
  static_assert(sizeof(Out) == sizeof(T));
  auto owned = std::make_unique<reconcile::Values<T>>(std::move(values));
  const T* data = owned->data();
  const auto size = static_cast<py::ssize_t>(owned->size());
  py::capsule owner(owned.get(), [](void* p) { delete static_cast<reconcile::Values<T>*>(p); });
  owned.release();
  return py::array_t<Out>({size}, {static_cast<py::ssize_t>(sizeof(Out))}, reinterpret_cast<const Out*>(data), owner);
}

py::dict side_of(reconcile::Side&& s) {
  py::dict d;
  d["outcome"] = to_numpy(std::move(s.outcome));
  d["pass"] = to_numpy(std::move(s.pass));
  d["counterpart"] = to_numpy(std::move(s.counterpart));
  d["difference"] = to_numpy(std::move(s.difference));
  return d;
}

// A column of Python strings (an object array) read by position, only where
// the report needs it; the array is kept alive by the function. Called with
// the GIL held.
reconcile::TextColumn text_column(py::handle values) {
  py::array a = py::module_::import("numpy").attr("ascontiguousarray")(values, py::arg("dtype") = "object");
  if (a.ndim() != 1) throw invalid_argument("reconciliation text columns are one-dimensional");
  return [a](std::size_t i) -> std::string {
    if (i >= static_cast<std::size_t>(a.size())) throw invalid_argument("a reconciliation text column is too short");
    PyObject* o = static_cast<PyObject* const*>(a.data())[i];
    if (PyUnicode_Check(o)) {
      Py_ssize_t size = 0;
      const char* data = PyUnicode_AsUTF8AndSize(o, &size);
      if (!data) throw py::error_already_set();
      return {data, static_cast<std::size_t>(size)};
    }
    return py::str(py::handle(o)).cast<std::string>();
  };
}

reconcile::Texts texts_of(const py::dict& d) {
  reconcile::Texts t;
  auto get = [&](const char* key) -> reconcile::TextColumn {
    if (!d.contains(key)) return [](std::size_t) -> std::string { return {}; };
    return text_column(d[key]);
  };
  t.id = get("id");
  t.customer = get("customer");
  t.currency = get("currency");
  t.object = get("object");
  t.raw_status = get("raw_status");
  t.reference = get("reference");
  return t;
}

template <class T>
std::span<const T> span_of_array(const py::array& a) {
  return {static_cast<const T*>(a.data()), static_cast<std::size_t>(a.size())};
}

// The engine's result for one side as numpy arrays (owned), and a view on them.
struct HeldSide {
  py::dict arrays;
  reconcile::SideView view;
};

HeldSide hold(reconcile::Side&& s) {
  HeldSide h;
  h.arrays = side_of(std::move(s));
  auto a = [&](const char* key) { return py::array(h.arrays[key]); };
  h.view.outcome = span_of_array<reconcile::Outcome>(a("outcome"));
  h.view.pass = span_of_array<reconcile::Pass>(a("pass"));
  h.view.counterpart = span_of_array<std::int64_t>(a("counterpart"));
  h.view.difference = span_of_array<std::int64_t>(a("difference"));
  return h;
}

// A match and its report, with everything they read kept alive: what
// amends.reconcile.ReconcileResult holds and a run records.
struct Held {
  Columns lc, bc;
  reconcile::Items ledger, billing;
  reconcile::Texts ledger_text, billing_text;
  HeldSide ledger_result, billing_result;
  reconcile::Report report;
};

template <class T>
py::array numpy_of(const std::vector<T>& v) {
  return py::array_t<T>(static_cast<py::ssize_t>(v.size()), v.data());
}

py::dict corrections_of(const reconcile::Report& r) {
  py::list action, request, billing_id, amount, currency, reason;
  for (const reconcile::Correction& c : r.corrections) {
    action.append(py::str(std::string(reconcile::to_string(c.action))));
    request.append(c.request);
    billing_id.append(c.billing_id);
    amount.append(c.amount_minor);
    currency.append(c.currency);
    reason.append(c.reason);
  }
  py::dict d;
  d["action"] = action;
  d["request"] = request;
  d["billing_id"] = billing_id;
  d["amount_minor"] = amount;
  d["currency"] = currency;
  d["reason"] = reason;
  return d;
}

std::vector<reconcile::InputColumn> input_columns(const py::dict& d, std::span<const std::string_view> order,
                                                   std::vector<py::array>& keep, std::size_t& rows, const char* side) {
  std::vector<reconcile::InputColumn> out;
  rows = 0;
  bool first = true;
  for (std::string_view name : order) {
    const std::string key(name);
    if (!d.contains(key.c_str())) throw invalid_argument(std::string("the checksum's ") + side + " columns need " + key);
    reconcile::InputColumn c;
    c.name = name;
    py::handle v = d[key.c_str()];
    std::size_t size = 0;
    if (name == "amount_minor") {
      keep.push_back(Column<std::int64_t>::ensure(v));
      c.integers = span_of_array<std::int64_t>(keep.back());
      c.is_integers = true;
      size = c.integers.size();
    } else if (name == "date") {
      keep.push_back(Column<std::int32_t>::ensure(v));
      c.days = span_of_array<std::int32_t>(keep.back());
      c.is_days = true;
      size = c.days.size();
    } else {
      size = static_cast<std::size_t>(py::len(v));
      c.text = text_column(v);
    }
    if (first) rows = size;
    first = false;
    if (size != rows) throw invalid_argument(std::string("the checksum's ") + side + " columns differ in length");
    out.push_back(std::move(c));
  }
  return out;
}

template <class E>
std::vector<std::string> names_of(std::size_t count) {
  std::vector<std::string> out;
  for (std::size_t i = 0; i < count; ++i) out.emplace_back(reconcile::to_string(static_cast<E>(i)));
  return out;
}

}  // namespace

void register_reconcile(py::module_& m) {
  m.attr("RECONCILE_OUTCOMES") = names_of<reconcile::Outcome>(reconcile::kOutcomes);
  m.attr("RECONCILE_PASSES") = names_of<reconcile::Pass>(reconcile::kPasses);
  m.attr("RECONCILE_ACTIONS") = names_of<reconcile::Action>(reconcile::kActions);
  m.attr("BILLING_STATUSES") = names_of<reconcile::Status>(reconcile::kStatuses);
  std::vector<std::string> exceptions;
  for (reconcile::Outcome o : reconcile::exceptions()) exceptions.emplace_back(reconcile::to_string(o));
  m.attr("RECONCILE_EXCEPTIONS") = exceptions;
  m.attr("RECONCILE_CHECKSUM_SCHEME") = reconcile::kChecksumScheme;
  m.attr("RECONCILE_LEDGER_COLUMNS") = std::vector<std::string>(reconcile::kLedgerColumns.begin(), reconcile::kLedgerColumns.end());
  m.attr("RECONCILE_BILLING_COLUMNS") =
      std::vector<std::string>(reconcile::kBillingColumns.begin(), reconcile::kBillingColumns.end());
  m.def(
      "reconcile_match",
      [](const py::dict& ledger, const py::dict& billing, std::int64_t amount_tolerance, std::int32_t days, bool splits,
         bool reference_needs_customer, unsigned threads, bool allow_empty_billing, const std::string& billing_name) {
        const Columns lc = columns_of(ledger, false), bc = columns_of(billing, true);
        const reconcile::Items l = items_of(lc, false), b = items_of(bc, true);
        reconcile::Options options{amount_tolerance, days, splits, reference_needs_customer, threads, allow_empty_billing};
        if (!billing_name.empty()) options.billing_name = billing_name;
        reconcile::Result r;
        {
          py::gil_scoped_release release;
          r = reconcile::match(l, b, options);
        }
        py::dict out;
        out["ledger"] = side_of(std::move(r.ledger));
        out["billing"] = side_of(std::move(r.billing));
        return out;
      },
      py::arg("ledger"), py::arg("billing"), py::arg("amount_tolerance") = 0, py::arg("days") = 3, py::arg("splits") = true,
      py::arg("reference_needs_customer") = false, py::arg("threads") = 0u, py::arg("allow_empty_billing") = false,
      py::arg("billing_name") = "",
      "Matches coded ledger and billing columns; returns per side outcome, pass, counterpart and difference arrays.\n"
      "threads: 0 is what the machine has (at most 8); the result is the same for any number.\n"
      "An empty billing side is refused (InvalidArgument, naming billing_name) unless allow_empty_billing.");

  py::class_<Held, std::shared_ptr<Held>>(m, "_ReconcileReport",
                                          "A match's report: reasons, corrections, summary; and what a run records.")
      .def_property_readonly("texts", [](const Held& h) { return h.report.texts; })
      .def("reason_index",
           [](const Held& h, bool billing) { return numpy_of(billing ? h.report.billing_reason : h.report.ledger_reason); },
           py::arg("billing"))
      .def("counterpart",
           [](const Held& h, bool billing) {
             return numpy_of(billing ? h.report.billing_counterpart : h.report.ledger_counterpart);
           },
           py::arg("billing"),
           "Each item's counterpart as a position among the ledger items followed by the billing items; -1: none.")
      .def("corrections", [](const Held& h) { return corrections_of(h.report); })
      .def_property_readonly("summary_json", [](const Held& h) { return h.report.summary_json(); })
      .def_property_readonly("exceptions", [](const Held& h) { return h.report.exceptions; })
      .def_property_readonly("ok", [](const Held& h) { return h.report.ok(); })
      .def(
          "record",
          [](const Held& h, desk::Desk& d, const std::string& source, py::handle first, py::handle last,
             const std::string& parameters, const std::string& sha, const std::string& actor, requests::Timestamp at) {
            desk::ReconciliationRun run{0, source, to_date(first, "first"), to_date(last, "last"), parameters, sha, "", 0,
                                        at, actor};
            return reconcile::record(d, std::move(run), h.ledger, h.ledger_text, h.ledger_result.view, h.billing,
                                     h.billing_text, h.billing_result.view, h.report);
          },
          py::arg("desk"), py::arg("source"), py::arg("first"), py::arg("last"), py::arg("parameters"),
          py::arg("inputs_sha256"), py::arg("actor"), py::arg("at"),
          "Records the run on the desk unless one of these inputs is recorded already; returns the run's id.");
  m.def(
      "reconcile_match_report",
      [](const py::dict& ledger, const py::dict& billing, const py::dict& ledger_text, const py::dict& billing_text,
         std::int64_t amount_tolerance, std::int32_t days, bool splits, bool reference_needs_customer, unsigned threads,
         bool allow_empty_billing, const std::string& billing_name) {
        auto h = std::make_shared<Held>();
        h->lc = columns_of(ledger, false);
        h->bc = columns_of(billing, true);
        h->ledger = items_of(h->lc, false);
        h->billing = items_of(h->bc, true);
        h->ledger_text = texts_of(ledger_text);
        h->billing_text = texts_of(billing_text);
        reconcile::Options options{amount_tolerance, days, splits, reference_needs_customer, threads, allow_empty_billing};
        if (!billing_name.empty()) options.billing_name = billing_name;
        reconcile::Result r;
        {
          py::gil_scoped_release release;
          r = reconcile::match(h->ledger, h->billing, options);
        }
        h->ledger_result = hold(std::move(r.ledger));
        h->billing_result = hold(std::move(r.billing));
        h->report = reconcile::report(h->ledger, h->ledger_text, h->ledger_result.view, h->billing, h->billing_text,
                                      h->billing_result.view, days);
        py::dict out;
        out["ledger"] = h->ledger_result.arrays;
        out["billing"] = h->billing_result.arrays;
        out["report"] = py::cast(h);
        return out;
      },
      py::arg("ledger"), py::arg("billing"), py::arg("ledger_text"), py::arg("billing_text"), py::arg("amount_tolerance") = 0,
      py::arg("days") = 3, py::arg("splits") = true, py::arg("reference_needs_customer") = false, py::arg("threads") = 0u,
      py::arg("allow_empty_billing") = false, py::arg("billing_name") = "",
      "reconcile_match, and the report of its result: the text columns (object arrays) name the items\n"
      "(ledger: id, customer, currency; billing: also object, raw_status, reference).");
  m.def(
      "reconcile_parameters",
      [](std::int64_t amount_tolerance_minor, std::int32_t days, bool splits, py::handle first, py::handle last,
         const std::string& source, bool allow_empty) {
        reconcile::RunParameters p{amount_tolerance_minor, days, splits, to_date(first, "first").days_since_epoch(),
                                   to_date(last, "last").days_since_epoch(), source, allow_empty};
        return p.json();
      },
      py::arg("amount_tolerance_minor"), py::arg("days"), py::arg("splits"), py::arg("first"), py::arg("last"),
      py::arg("source"), py::arg("allow_empty"), "A run's parameters as canonical JSON (amends/reconcile_report.hpp).");
  m.def(
      "reconcile_checksum",
      [](const std::string& parameters, const py::dict& ledger, const py::dict& billing) {
        std::vector<py::array> keep;
        std::size_t ledger_rows = 0, billing_rows = 0;
        const auto l = input_columns(ledger, reconcile::kLedgerColumns, keep, ledger_rows, "ledger");
        const auto b = input_columns(billing, reconcile::kBillingColumns, keep, billing_rows, "billing");
        return reconcile::inputs_sha256(parameters, l, ledger_rows, b, billing_rows);
      },
      py::arg("parameters"), py::arg("ledger"), py::arg("billing"),
      "SHA-256 of a run's inputs by the encoding of amends/reconcile_report.hpp: amount_minor int64, date as int32\n"
      "days since 1970-01-01, every other column text.");
  m.def(
      "reconcile_ledger_items",
      [](const desk::Desk& d, py::handle first, py::handle last) {
        reconcile::LedgerItems items = reconcile::ledger_items(d, to_date(first, "first"), to_date(last, "last"));
        py::dict out;
        out["id"] = items.id;
        out["customer"] = items.customer;
        out["currency"] = items.currency;
        out["amount_minor"] = numpy_of(items.amount_minor);
        out["day"] = numpy_of(items.day);
        out["kind"] = items.kind;
        out["state"] = items.state;
        return out;
      },
      py::arg("desk"), py::arg("first"), py::arg("last"),
      "The ledger side of a period: the desk's applied (or reconciled) requests whose application is dated\n"
      "first..last (UTC), in id order; day: days since 1970-01-01.");
}

}  // namespace amends::python
