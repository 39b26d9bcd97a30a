// Money helpers: currencies, rounding, rate multiplication and allocation.
#include <pybind11/stl.h>

#include "convert.hpp"

namespace amends::python {

namespace {

struct CurrencyRecord {
  std::string code;
  int numeric;
  int minor_units;
  std::string name;
};

CurrencyRecord record_of(Currency currency) {
  return CurrencyRecord{std::string(currency.code()), currency.numeric(), currency.minor_units(), std::string(currency.name())};
}

std::vector<Decimal> to_decimals(const py::iterable& values, std::string_view what) {
  std::vector<Decimal> out;
  for (py::handle value : values) out.push_back(to_decimal(value, what));
  return out;
}

py::list to_list(const std::vector<Decimal>& values) {
  py::list out;
  for (const Decimal& value : values) out.append(to_python(value));
  return out;
}

int checked_places(int places) {
  if (places < 0 || places > Decimal::scale_digits)
    throw invalid_argument("places must be between 0 and " + std::to_string(Decimal::scale_digits) + ", got " +
                           std::to_string(places));
  return places;
}

}  // namespace

void register_money(py::module_& m) {
  py::class_<CurrencyRecord>(m, "CurrencyInfo", "An ISO 4217 currency: code, numeric code, minor units, name.")
      .def_readonly("code", &CurrencyRecord::code)
      .def_readonly("numeric", &CurrencyRecord::numeric)
      .def_readonly("minor_units", &CurrencyRecord::minor_units)
      .def_readonly("name", &CurrencyRecord::name)
      .def("__repr__", [](const CurrencyRecord& c) {
        return "CurrencyInfo(code='" + c.code + "', numeric=" + std::to_string(c.numeric) +
               ", minor_units=" + std::to_string(c.minor_units) + ", name='" + c.name + "')";
      });

  m.attr("SCALE_DIGITS") = Decimal::scale_digits;
  m.attr("ROUNDING_MODES") = py::make_tuple("half_even", "half_up", "down", "up", "floor", "ceiling");

  m.def("currency", [](py::handle code) { return record_of(to_currency(code)); }, py::arg("code"),
        "The ISO 4217 currency with this alphabetic code; UnknownCurrency otherwise.");
  m.def("currencies", [] {
    std::vector<CurrencyRecord> out;
    for (const CurrencyInfo& info : Currency::all()) out.push_back(record_of(Currency::of(info.code)));
    return out;
  }, "Every ISO 4217 currency amends knows, ordered by code.");

  m.def("round_amount", [](py::handle amount, int places, const std::string& rounding) {
    return to_python(to_decimal(amount).round(checked_places(places), parse_rounding(rounding)));
  }, py::arg("amount"), py::arg("places"), py::arg("rounding") = "half_even",
        "Rounds to `places` fraction digits with a named rounding mode.");

  m.def("multiply", [](py::handle amount, py::handle rate, py::handle currency, const std::string& rounding) {
    Currency cur = to_currency(currency);
    return to_python(Money(to_decimal(amount), cur).mul(to_decimal(rate, "rate"), parse_rounding(rounding)).amount(), cur);
  }, py::arg("amount"), py::arg("rate"), py::arg("currency"), py::arg("rounding") = "half_even",
        "amount * rate (a percentage as 0.15, a factor), rounded to the currency's minor units.");

  m.def("convert", [](py::handle amount, py::handle from, py::handle to, py::handle rate, const std::string& rounding) {
    Money money(to_decimal(amount), to_currency(from));
    Currency target = to_currency(to);
    return to_python(money.convert(target, to_decimal(rate, "rate"), parse_rounding(rounding)).amount(), target);
  }, py::arg("amount"), py::arg("from_currency"), py::arg("to_currency"), py::arg("rate"), py::arg("rounding") = "half_even",
        "Converts at `rate` units of to_currency per unit of from_currency, rounded to the target's minor units.");

  m.def("allocate", [](py::handle total, const py::iterable& weights, py::handle currency, py::object places) {
    std::vector<Decimal> w = to_decimals(weights, "weight");
    if (!currency.is_none()) {
      if (!places.is_none()) throw invalid_argument("give either currency or places, not both");
      std::vector<Money> parts = allocate(Money(to_decimal(total, "total"), to_currency(currency)), w);
      py::list out;
      for (const Money& part : parts) out.append(to_python(part.amount(), part.currency()));
      return out;
    }
    int p = places.is_none() ? 2 : checked_places(places.cast<int>());
    return to_list(allocate(to_decimal(total, "total"), w, p));
  }, py::arg("total"), py::arg("weights"), py::arg("currency") = py::none(), py::arg("places") = py::none(),
        "Splits total by weights into parts that sum exactly to it (largest remainder, ties to the earlier part).");

  m.def("allocate_evenly", [](py::handle total, std::size_t parts, py::handle currency) {
    py::list out;
    for (const Money& part : allocate_evenly(Money(to_decimal(total, "total"), to_currency(currency)), parts))
      out.append(to_python(part.amount(), part.currency()));
    return out;
  }, py::arg("total"), py::arg("parts"), py::arg("currency"), "Splits total into `parts` near-equal parts summing exactly to it.");
}

}  // namespace amends::python
