#include "convert.hpp"

#include <datetime.h>

namespace amends::python {

namespace {
void ensure_datetime_api() {
  if (!PyDateTimeAPI) PyDateTime_IMPORT;
}
}  // namespace

py::object decimal_class() {
  static py::object cls = py::module_::import("decimal").attr("Decimal");
  return cls;
}

py::object to_python(const Decimal& value) { return decimal_class()(value.to_string()); }

py::object to_python(const Decimal& value, Currency currency) {
  if (!value.fits_places(currency.minor_units())) return to_python(value);
  return decimal_class()(value.to_string(currency.minor_units()));
}

std::string to_utf8(py::handle value, std::string_view what) {
  if (!PyUnicode_Check(value.ptr()))
    throw py::type_error(std::string(what) + " must be a str, not " + std::string(Py_TYPE(value.ptr())->tp_name));
  Py_ssize_t size = 0;
  const char* data = PyUnicode_AsUTF8AndSize(value.ptr(), &size);
  if (!data) throw py::error_already_set();
  return std::string(data, static_cast<std::size_t>(size));
}

Decimal decimal_from_utf8(py::handle text) {
  Py_ssize_t size = 0;
  const char* data = PyUnicode_AsUTF8AndSize(text.ptr(), &size);
  if (!data) throw py::error_already_set();
  return Decimal::parse(std::string_view(data, static_cast<std::size_t>(size)));
}

Decimal to_decimal(py::handle value, std::string_view what) {
  PyObject* object = value.ptr();
  if (PyUnicode_Check(object)) return decimal_from_utf8(value);
  if (PyFloat_Check(object))
    throw py::type_error(std::string(what) + " is a float (" + std::string(py::repr(value)) +
                         "); a float can't hold money exactly, pass decimal.Decimal, int or str instead");
  if (PyBool_Check(object)) throw py::type_error(std::string(what) + " is a bool; pass decimal.Decimal, int or str");
  if (PyLong_Check(object)) {
    int overflowed = 0;
    long long whole = PyLong_AsLongLongAndOverflow(object, &overflowed);
    if (!overflowed) return Decimal(static_cast<std::int64_t>(whole));
    return Decimal::parse(std::string(py::str(value)));
  }
  if (py::isinstance(value, decimal_class())) {
    // str() of a Decimal is fixed-point for everyday amounts; exponent forms
    // ("1E+3", "1E-7") go through format(value, "f") so every digit is kept.
    // Trailing fraction zeros carry no value, so they never count against
    // the 18 fraction digits ("1.0000000000000000000" is 1).
    std::string text = py::str(value);
    if (text.find_first_of("EeNnIi") != std::string::npos) {
      if (!value.attr("is_finite")().cast<bool>())
        throw invalid_argument(std::string(what) + " is " + text + "; amounts must be finite numbers");
      text = py::str(py::module_::import("builtins").attr("format")(value, "f"));
    }
    if (text.find('.') != std::string::npos) {
      while (text.back() == '0') text.pop_back();
      if (text.back() == '.') text.pop_back();
      if (text.empty() || text == "-") text = "0";
    }
    return Decimal::parse(text);
  }
  throw py::type_error(std::string(what) + " must be decimal.Decimal, int or str, not " +
                       std::string(Py_TYPE(value.ptr())->tp_name));
}

py::object to_python(const Date& value) {
  ensure_datetime_api();
  return py::reinterpret_steal<py::object>(
      PyDate_FromDate(value.year(), static_cast<int>(value.month()), static_cast<int>(value.day())));
}

Date to_date(py::handle value, std::string_view what) {
  ensure_datetime_api();
  PyObject* object = value.ptr();
  if (PyDateTime_Check(object))
    throw py::type_error(std::string(what) + " is a datetime; pass a datetime.date (use .date())");
  if (PyDate_Check(object))
    return Date::from_ymd(PyDateTime_GET_YEAR(object), static_cast<unsigned>(PyDateTime_GET_MONTH(object)),
                          static_cast<unsigned>(PyDateTime_GET_DAY(object)));
  if (PyUnicode_Check(object)) return Date::parse(to_utf8(value, what));
  throw py::type_error(std::string(what) + " must be a datetime.date or an ISO date string like \"2026-11-23\", not " +
                       std::string(Py_TYPE(value.ptr())->tp_name));
}

std::optional<Date> to_optional_date(py::handle value, std::string_view what) {
  if (value.is_none()) return std::nullopt;
  return to_date(value, what);
}

Period to_period(py::handle value) {
  if (py::isinstance<Period>(value)) return value.cast<Period>();
  if (PyUnicode_Check(value.ptr())) return Period::parse(to_utf8(value, "period"));
  ensure_datetime_api();
  if (PyDate_Check(value.ptr()) && !PyDateTime_Check(value.ptr())) return Period::of(to_date(value));
  throw py::type_error("period must be a Period or a string like \"2026-11\", not " +
                       std::string(Py_TYPE(value.ptr())->tp_name));
}

std::optional<Date> to_as_of(py::handle value) {
  if (value.is_none()) return std::nullopt;
  if (py::isinstance<Period>(value)) return value.cast<Period>().last_day();
  if (PyUnicode_Check(value.ptr())) {
    std::string text = to_utf8(value, "as_of");
    if (text.size() == 7) return Period::parse(text).last_day();
    return Date::parse(text);
  }
  return to_date(value, "as_of");
}

Currency to_currency(py::handle value) { return Currency::of(to_utf8(value, "currency")); }

}  // namespace amends::python
