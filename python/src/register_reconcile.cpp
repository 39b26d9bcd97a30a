// amends._core: the reconciliation matching engine over numpy columns (amends.reconcile wraps it).
#include <pybind11/numpy.h>
#include <memory>
#include <type_traits>
#include <pybind11/stl.h>

#include "amends/reconcile.hpp"
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

}  // namespace

void register_reconcile(py::module_& m) {
  std::vector<std::string> outcomes, passes;
  for (int i = 0; i <= static_cast<int>(reconcile::Outcome::not_applicable); ++i)
    outcomes.emplace_back(reconcile::to_string(static_cast<reconcile::Outcome>(i)));
  for (int i = 0; i <= static_cast<int>(reconcile::Pass::only_candidate); ++i)
    passes.emplace_back(reconcile::to_string(static_cast<reconcile::Pass>(i)));
  m.attr("RECONCILE_OUTCOMES") = outcomes;
  m.attr("RECONCILE_PASSES") = passes;
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
}

}  // namespace amends::python
