// Conversions between Python values and the core's value types. Amounts cross
// only as decimal.Decimal, int or str; a float is refused with a TypeError.
#pragma once

#include <pybind11/pybind11.h>

#include <optional>
#include <string>
#include <string_view>

#include "amends/calendar.hpp"
#include "amends/ledger.hpp"
#include "amends/money.hpp"

namespace amends::python {

namespace py = pybind11;

// The decimal.Decimal class, imported once.
py::object decimal_class();
py::object to_python(const Decimal& value);
// An amount in a currency, written with exactly its minor digits: Decimal("25.00").
py::object to_python(const Decimal& value, Currency currency);
// Decimal, int or str -> Decimal; float, bool and anything else -> TypeError.
Decimal to_decimal(py::handle value, std::string_view what = "amount");
// A str amount without going through Python objects (fast path for columns).
Decimal decimal_from_utf8(py::handle text);

py::object to_python(const Date& value);
// datetime.date or "YYYY-MM-DD" -> Date; datetime.datetime is refused (use .date()).
Date to_date(py::handle value, std::string_view what = "date");
std::optional<Date> to_optional_date(py::handle value, std::string_view what = "date");
// A date, "YYYY-MM-DD", a Period or "YYYY-MM" (meaning the period's last day).
std::optional<Date> to_as_of(py::handle value);
Period to_period(py::handle value);

Currency to_currency(py::handle value);
std::string to_utf8(py::handle value, std::string_view what);

void register_errors(py::module_& m);
void register_money(py::module_& m);
void register_calendar(py::module_& m);
void register_ledger(py::module_& m);
void register_store(py::module_& m);
void register_policy(py::module_& m);
void register_desk(py::module_& m);
void register_reconcile(py::module_& m);
void register_names(py::module_& m);
// The columns of Ledger.to_pandas (and amends.read_postings), as Python objects.
py::dict posting_columns_to_python(const PostingColumns& columns);

// The Python exception class for a batch result code (for atomic batches).
py::handle exception_for(ResultCode code);

}  // namespace amends::python
