// The in-memory Ledger. The Python class amends.Ledger derives from this one
// and turns the plain lists returned here into DataFrames.
#include <map>

#include <pybind11/numpy.h>
#include <pybind11/stl.h>

#include <fstream>
#include <unordered_map>

#include "convert.hpp"

namespace amends::python {

namespace {

py::dict account_dict(const Account& acct) {
  py::dict out;
  out["id"] = acct.id.value;
  out["name"] = acct.name;
  out["type"] = std::string(to_string(acct.type));
  out["currency"] = std::string(acct.currency.code());
  py::dict dims;
  for (const auto& [key, value] : acct.dimensions) dims[py::str(key)] = value;
  out["dimensions"] = dims;
  out["min_normal_balance"] = acct.limit.min_normal ? to_python(*acct.limit.min_normal, acct.currency) : py::none();
  out["max_normal_balance"] = acct.limit.max_normal ? to_python(*acct.limit.max_normal, acct.currency) : py::none();
  out["closed"] = acct.closed;
  return out;
}

std::optional<Decimal> optional_decimal(py::handle value, std::string_view what) {
  if (value.is_none()) return std::nullopt;
  return to_decimal(value, what);
}

Metadata to_metadata(py::handle value) {
  Metadata out;
  if (value.is_none()) return out;
  if (!py::isinstance<py::dict>(value)) throw py::type_error("metadata must be a dict of str to str");
  for (auto item : py::reinterpret_borrow<py::dict>(value)) {
    std::string key = to_utf8(item.first, "metadata key");
    if (key.empty()) throw invalid_argument("metadata keys must not be empty");
    out.emplace_back(std::move(key), to_utf8(item.second, "metadata value for " + std::string(py::str(item.first))));
  }
  return out;
}

py::dict metadata_dict(const Metadata& metadata) {
  py::dict out;
  for (const auto& [key, value] : metadata) out[py::str(key)] = value;
  return out;
}

// The account of a name, in `currency` when given (a name may be open in
// several currencies).
AccountId resolve(const Ledger& ledger, const std::string& name, py::handle currency) {
  if (currency.is_none()) return ledger.account_id(name);
  return ledger.account_id(name, to_currency(currency));
}

// Fills draft.postings from [(account, amount) or (account, amount, currency), ...].
void fill_postings(const Ledger& ledger, py::handle postings, EntryDraft& draft) {
  if (py::isinstance<py::str>(postings) || !py::isinstance<py::iterable>(postings))
    throw py::type_error("postings must be a list of (account, amount) or (account, amount, currency) tuples");
  for (py::handle item : py::reinterpret_borrow<py::iterable>(postings)) {
    if (!py::isinstance<py::tuple>(item) && !py::isinstance<py::list>(item))
      throw py::type_error("each posting must be a tuple (account, amount) or (account, amount, currency), not " +
                           std::string(Py_TYPE(item.ptr())->tp_name));
    py::sequence posting = py::reinterpret_borrow<py::sequence>(item);
    if (posting.size() != 2 && posting.size() != 3)
      throw py::type_error("each posting must be (account, amount) or (account, amount, currency)");
    PostingDraft draft_posting;
    const std::string name = to_utf8(posting[0], "account");
    py::object currency = posting.size() == 3 ? py::object(posting[2]) : py::object(py::none());
    draft_posting.account = resolve(ledger, name, currency);
    draft_posting.amount = to_decimal(posting[1], "amount of the posting to " + name);
    if (!currency.is_none()) draft_posting.currency = to_currency(currency);
    draft.postings.push_back(draft_posting);
  }
}

EntryDraft make_draft(const Ledger& ledger, py::handle date, py::handle postings, py::handle description,
                      py::handle idempotency_key, py::handle metadata, bool allow_locked_period) {
  EntryDraft draft;
  draft.date = to_date(date);
  fill_postings(ledger, postings, draft);
  if (!description.is_none()) draft.description = to_utf8(description, "description");
  if (!idempotency_key.is_none()) draft.idempotency_key = to_utf8(idempotency_key, "idempotency_key");
  draft.metadata = to_metadata(metadata);
  draft.allow_locked_period = allow_locked_period;
  return draft;
}

py::dict batch_dict(const BatchResult& result) {
  py::dict out;
  py::array_t<std::uint64_t> ids(static_cast<py::ssize_t>(result.ids.size()));
  auto ids_view = ids.mutable_unchecked<1>();
  py::list codes;
  for (std::size_t i = 0; i < result.ids.size(); ++i) ids_view(static_cast<py::ssize_t>(i)) = result.ids[i].value;
  py::list failures;
  for (const BatchFailure& failure : result.failures)
    failures.append(py::make_tuple(failure.index, std::string(to_string(failure.code)), failure.message));
  out["ids"] = ids;
  out["failures"] = failures;
  out["created"] = result.created;
  out["existing"] = result.existing;
  return out;
}

[[noreturn]] void raise_failure(const BatchFailure& failure, const std::string& label) {
  PyErr_SetObject(exception_for(failure.code).ptr(), py::str(label + failure.message).ptr());
  throw py::error_already_set();
}

template <typename T>
const T* column_data(const py::array& column, std::size_t rows, const char* name) {
  if (static_cast<std::size_t>(column.size()) != rows)
    throw invalid_argument(std::string("column ") + name + " has " + std::to_string(column.size()) + " rows, expected " +
                           std::to_string(rows));
  return static_cast<const T*>(column.data());
}

// Posts rows grouped into entries by consecutive equal key codes. Columns come
// from amends.ledger, which normalises a DataFrame or dict of arrays.
py::dict post_columns(Ledger& ledger, py::array_t<std::int64_t, py::array::c_style | py::array::forcecast> key_codes,
                      const std::vector<std::string>& keys,
                      py::array_t<std::int64_t, py::array::c_style | py::array::forcecast> days,
                      py::array_t<std::int64_t, py::array::c_style | py::array::forcecast> account_codes,
                      const std::vector<std::string>& account_names,
                      py::array_t<std::int64_t, py::array::c_style | py::array::forcecast> currency_codes,
                      const std::vector<std::string>& currency_names, py::array amounts, int amount_minor_units,
                      py::object descriptions, bool atomic, bool open_missing_accounts) {
  const auto rows = static_cast<std::size_t>(key_codes.size());
  const std::int64_t* key_data = key_codes.data();
  const std::int64_t* day_data = column_data<std::int64_t>(days, rows, "date");
  const std::int64_t* account_data = column_data<std::int64_t>(account_codes, rows, "account");
  const std::int64_t* currency_data = column_data<std::int64_t>(currency_codes, rows, "currency");
  const bool amounts_are_objects = amounts.dtype().kind() == 'O';
  if (!amounts_are_objects && amounts.dtype().kind() != 'i')
    throw py::type_error("the amount column must hold Decimal, int or str values (or integer minor units); a float column can't hold money exactly");
  const bool amounts_are_minor = amount_minor_units != 0;
  py::array_t<std::int64_t, py::array::c_style | py::array::forcecast> amounts_int;
  const std::int64_t* amount_ints = nullptr;
  PyObject* const* amount_objects = nullptr;
  py::array amounts_obj;
  if (amounts_are_objects) {
    amounts_obj = py::array::ensure(amounts, py::array::c_style);
    amount_objects = column_data<PyObject*>(amounts_obj, rows, "amount");
  } else {
    amounts_int = amounts;
    amount_ints = column_data<std::int64_t>(amounts_int, rows, "amount");
  }
  py::array descriptions_obj;
  PyObject* const* description_objects = nullptr;
  if (!descriptions.is_none()) {
    descriptions_obj = py::array::ensure(descriptions, py::array::c_style);
    if (descriptions_obj.dtype().kind() != 'O') throw py::type_error("the description column must hold str values");
    description_objects = column_data<PyObject*>(descriptions_obj, rows, "description");
  }

  std::vector<Currency> currencies;
  for (const std::string& code : currency_names) currencies.push_back(Currency::of(code));
  // A cell with a NUL byte, which no text can carry, refuses the batch as a
  // whole (as a bad row does): the distinct keys and names are looked at once.
  auto with_nul = [](const std::vector<std::string>& values) {
    std::vector<bool> out(values.size());
    for (std::size_t i = 0; i < values.size(); ++i) out[i] = values[i].find('\0') != std::string::npos;
    return out;
  };
  const std::vector<bool> key_has_nul = with_nul(keys), account_has_nul = with_nul(account_names);
  auto refuse_cell = [](std::size_t row, const char* column, const std::string& value) {
    check_text(("row " + std::to_string(row) + ": column " + column).c_str(), value);
  };

  const Ledger::Savepoint start = ledger.savepoint();
  BatchResult result;
  try {
    // Each distinct (account, currency) pair is resolved once, in row order,
    // opening missing accounts if asked to: a new name takes its type from
    // its root and its currency from its first posting; a known name in a
    // new currency is opened in that currency as the same type.
    const std::size_t currency_count = std::max<std::size_t>(currencies.size(), 1);
    std::vector<std::uint32_t> pair_ids;
    std::unordered_map<std::uint64_t, std::uint32_t> pair_map;
    const bool dense = account_names.size() * currency_count <= (std::size_t{1} << 25);
    if (dense) pair_ids.assign(account_names.size() * currency_count, detail::NameIndex::npos);
    auto resolve_pair = [&](std::size_t account_code, std::size_t currency_code) -> AccountId {
      const std::size_t slot = account_code * currency_count + currency_code;
      if (dense && pair_ids[slot] != detail::NameIndex::npos) return AccountId{pair_ids[slot]};
      if (!dense) {
        auto found = pair_map.find(slot);
        if (found != pair_map.end()) return AccountId{found->second};
      }
      const std::string& name = account_names[account_code];
      const Currency currency = currencies[currency_code];
      std::optional<AccountId> id = ledger.find_account(name, currency);
      if (!id) {
        std::optional<AccountId> other = ledger.find_account(name);
        if (other && !open_missing_accounts) {
          id = other;  // refused per entry as a currency mismatch
        } else if (other) {
          AccountOptions same;
          same.dimensions = ledger.account(*other).dimensions;
          id = ledger.create_account(name, ledger.account(*other).type, currency, std::move(same));
        } else {
          if (!open_missing_accounts)
            throw unknown_account("no account named " + name + "; create it first or pass open_missing_accounts=True");
          std::optional<AccountType> type = account_type_from_name(name);
          if (!type)
            throw unknown_account("can't tell the type of new account " + name +
                                  " from its root name (Assets, Liabilities, Equity, Revenue, Expenses, Budget); create it first");
          id = ledger.create_account(name, *type, currency);
        }
      }
      if (dense) pair_ids[slot] = id->value;
      else pair_map.emplace(slot, id->value);
      return *id;
    };

    EntryDraft draft;
    std::size_t entry_start = 0;
    auto flush = [&](std::size_t end_row) {
      const std::size_t ordinal = result.ids.size();
      result.ids.push_back(EntryId{});
      result.codes.push_back(ResultCode::ok);
      try {
        PostResult posted = ledger.post(draft);
        result.ids.back() = posted.id;
        result.codes.back() = posted.created ? ResultCode::ok : ResultCode::exists;
        ++(posted.created ? result.created : result.existing);
      } catch (const error& e) {
        const std::string label = "entry " + draft.idempotency_key + " (rows " + std::to_string(entry_start) + "-" +
                                  std::to_string(end_row - 1) + "): ";
        const ResultCode code = result_code_of(e);
        result.codes.back() = code;
        result.failures.push_back(BatchFailure{static_cast<std::uint32_t>(ordinal), code, label + e.what()});
        if (atomic) {
          ledger.rollback_to(start);
          raise_failure(result.failures.back(), "");
        }
      }
    };
    for (std::size_t r = 0; r < rows; ++r) {
      if (r == 0 || key_data[r] != key_data[r - 1]) {
        if (r != 0) flush(r);
        entry_start = r;
        draft.clear();
        const std::int64_t key = key_data[r];
        if (key < 0 || static_cast<std::size_t>(key) >= keys.size())
          throw invalid_argument("row " + std::to_string(r) + ": the entry key is missing");
        if (key_has_nul[static_cast<std::size_t>(key)]) refuse_cell(r, "entry_id", keys[static_cast<std::size_t>(key)]);
        draft.idempotency_key = keys[static_cast<std::size_t>(key)];
        if (day_data[r] < std::numeric_limits<std::int32_t>::min() || day_data[r] > std::numeric_limits<std::int32_t>::max())
          throw invalid_argument("row " + std::to_string(r) + ": the date is missing or out of range");
        draft.date = Date::from_days(static_cast<std::int32_t>(day_data[r]));
        if (description_objects && PyUnicode_Check(description_objects[r]))
          draft.description = to_utf8(py::handle(description_objects[r]), "description");
        refuse_cell(r, "description", draft.description);
      } else if (day_data[r] != day_data[entry_start]) {
        throw invalid_argument("row " + std::to_string(r) + ": entry " + draft.idempotency_key +
                               " has rows with different dates; rows of one entry share its date");
      }
      const std::int64_t currency_code = currency_data[r];
      if (currency_code < 0 || static_cast<std::size_t>(currency_code) >= currencies.size())
        throw invalid_argument("row " + std::to_string(r) + ": the currency is missing");
      const Currency currency = currencies[static_cast<std::size_t>(currency_code)];
      Decimal amount;
      if (amount_objects) {
        py::handle value(amount_objects[r]);
        amount = PyUnicode_Check(value.ptr()) ? decimal_from_utf8(value) : to_decimal(value, "amount in row " + std::to_string(r));
      } else if (amounts_are_minor) {
        amount = Decimal::from_scaled(amount_ints[r], currency.minor_units());
      } else {
        amount = Decimal(amount_ints[r]);
      }
      const std::int64_t account_code = account_data[r];
      if (account_code < 0 || static_cast<std::size_t>(account_code) >= account_names.size())
        throw invalid_argument("row " + std::to_string(r) + ": the account is missing");
      if (account_has_nul[static_cast<std::size_t>(account_code)])
        refuse_cell(r, "account", account_names[static_cast<std::size_t>(account_code)]);
      draft.postings.push_back(PostingDraft{
          resolve_pair(static_cast<std::size_t>(account_code), static_cast<std::size_t>(currency_code)), amount, currency});
    }
    if (rows != 0) flush(rows);
  } catch (...) {
    // Whatever escaped (a refused entry of an atomic batch, a malformed row,
    // a Python error while converting a value) leaves nothing behind: a
    // malformed batch is refused as a whole in either mode, as load_csv does.
    ledger.rollback_to(start);
    throw;
  }
  return batch_dict(result);
}

}  // namespace

// Posting columns as the dict Ledger.to_pandas and amends.read_postings turn
// into a frame: codes for names, currencies and statuses; the dates and
// amounts, which repeat, made once each and shared.
py::dict posting_columns_to_python(const PostingColumns& c) {
  const auto rows = static_cast<py::ssize_t>(c.entry_id.size());
  py::array_t<std::int64_t> entry_ids(rows, c.entry_id.data());
  py::array_t<std::int32_t> status_codes(rows);
  py::array_t<std::int32_t> account_codes(rows), currency_codes(rows);
  py::object empty = py::module_::import("numpy").attr("empty");
  py::array dates(empty(rows, "O")), amounts(empty(rows, "O"));  // filled with None
  auto put = [](py::array& column, py::ssize_t row, const py::object& value) {
    PyObject** slot = static_cast<PyObject**>(column.mutable_data()) + row;
    Py_XDECREF(*slot);
    *slot = value.inc_ref().ptr();
  };
  py::list account_names, currency_names, status_names;
  std::vector<std::int32_t> name_of(c.account_names.size()), currency_of(c.account_names.size());
  std::map<std::string_view, std::int32_t> names, currencies;
  for (std::size_t i = 0; i < c.account_names.size(); ++i) {
    auto [n, new_name] = names.emplace(c.account_names[i], static_cast<std::int32_t>(names.size()));
    if (new_name) account_names.append(c.account_names[i]);
    name_of[i] = n->second;
    auto [k, new_code] = currencies.emplace(c.account_currency[i].code(), static_cast<std::int32_t>(currencies.size()));
    if (new_code) currency_names.append(std::string(c.account_currency[i].code()));
    currency_of[i] = k->second;
  }
  for (EntryStatus status : {EntryStatus::posted, EntryStatus::pending, EntryStatus::pending_posted,
                             EntryStatus::pending_voided, EntryStatus::pending_expired})
    status_names.append(std::string(to_string(status)));
  std::unordered_map<std::int32_t, py::object> date_cache;
  const py::object decimal = decimal_class();
  // Amount objects by (minor digits, minor units): open addressing,
  // a tenth of the cost of std::unordered_map on a quarter-million keys.
  struct AmountSlot {
    std::int64_t minor = 0;
    int places = -1;
    py::object value;
  };
  std::vector<AmountSlot> amount_slots(1U << 12);
  std::size_t amount_used = 0;
  auto amount_slot = [&](int places, std::int64_t minor) -> py::object& {
    if (2 * (amount_used + 1) > amount_slots.size()) {
      std::vector<AmountSlot> bigger(amount_slots.size() * 2);
      for (AmountSlot& old : amount_slots) {
        if (old.places < 0) continue;
        std::size_t at = std::hash<std::int64_t>{}(old.minor * 5 + old.places) * 0x9e3779b97f4a7c15ULL;
        for (at &= bigger.size() - 1; bigger[at].places >= 0; at = (at + 1) & (bigger.size() - 1)) {
        }
        bigger[at] = std::move(old);
      }
      amount_slots.swap(bigger);
    }
    std::size_t at = std::hash<std::int64_t>{}(minor * 5 + places) * 0x9e3779b97f4a7c15ULL;
    for (at &= amount_slots.size() - 1;; at = (at + 1) & (amount_slots.size() - 1)) {
      AmountSlot& slot = amount_slots[at];
      if (slot.places == places && slot.minor == minor) return slot.value;
      if (slot.places < 0) {
        slot.places = places;
        slot.minor = minor;
        ++amount_used;
        return slot.value;
      }
    }
  };
  auto* accounts = account_codes.mutable_data();
  auto* codes = currency_codes.mutable_data();
  auto* statuses = status_codes.mutable_data();
  for (py::ssize_t row = 0; row < rows; ++row) {
    const auto i = static_cast<std::size_t>(row);
    const auto a = static_cast<std::size_t>(c.account[i]);
    py::object& date = date_cache[c.day[i]];
    if (!date) date = to_python(Date::from_days(c.day[i]));
    const Currency currency = c.account_currency[a];
    py::object& amount = amount_slot(currency.minor_units(), c.amount_minor[i]);
    if (!amount) {
      // decimal.Decimal("123.45"), called through the C API.
      const std::string text = Decimal::from_scaled(c.amount_minor[i], currency.minor_units()).to_string(currency.minor_units());
      PyObject* arg = PyUnicode_FromStringAndSize(text.data(), static_cast<Py_ssize_t>(text.size()));
      if (!arg) throw py::error_already_set();
      PyObject* made = PyObject_CallOneArg(decimal.ptr(), arg);
      Py_DECREF(arg);
      if (!made) throw py::error_already_set();
      amount = py::reinterpret_steal<py::object>(made);
    }
    put(dates, row, date);
    put(amounts, row, amount);
    accounts[row] = name_of[a];
    codes[row] = currency_of[a];
    statuses[row] = c.status[i];
  }
  py::dict out;
  out["entry_id"] = entry_ids;
  out["date"] = dates;
  out["account_codes"] = account_codes;
  out["account_names"] = account_names;
  out["amount"] = amounts;
  out["currency_codes"] = currency_codes;
  out["currency_names"] = currency_names;
  out["status_codes"] = status_codes;
  out["status_names"] = status_names;
  return out;
}

void register_ledger(py::module_& m) {
  py::class_<Ledger>(m, "Ledger", "An in-memory double-entry ledger (one book).")
      .def(py::init([](py::handle base_currency, unsigned fiscal_year_start_month, const std::string& name) {
             LedgerConfig config;
             config.base_currency = to_currency(base_currency);
             config.fiscal_year_start_month = fiscal_year_start_month;
             config.name = name;
             return Ledger(std::move(config));
           }),
           py::arg("base_currency") = "USD", py::arg("fiscal_year_start_month") = 1, py::arg("name") = "main")
      .def_property_readonly("base_currency", [](const Ledger& l) { return std::string(l.config().base_currency.code()); })
      .def_property_readonly("name", [](const Ledger& l) { return l.config().name; })
      .def_property_readonly("fiscal_calendar", [](const Ledger& l) { return l.fiscal_calendar(); })
      .def_property_readonly("entry_count", &Ledger::entry_count)
      .def_property_readonly("posting_count", &Ledger::posting_count)
      .def_property_readonly("account_count", &Ledger::account_count)

      .def("_create_account", [](Ledger& l, const std::string& name, const std::string& type, py::handle currency,
                                 const std::map<std::string, std::string>& dimensions, py::handle min_normal,
                                 py::handle max_normal) {
        AccountOptions options;
        for (const auto& [key, value] : dimensions) options.dimensions.emplace(key, value);
        options.limit.min_normal = optional_decimal(min_normal, "min_normal_balance");
        options.limit.max_normal = optional_decimal(max_normal, "max_normal_balance");
        Currency cur = currency.is_none() ? l.config().base_currency : to_currency(currency);
        return account_dict(l.account(l.create_account(name, parse_account_type(type), cur, std::move(options))));
      })
      .def("_account", [](const Ledger& l, const std::string& name, py::handle currency) {
        return account_dict(l.account(resolve(l, name, currency)));
      }, py::arg("name"), py::arg("currency") = py::none())
      .def("_accounts", [](const Ledger& l) {
        py::list out;
        for (std::uint32_t i = 0; i < l.account_count(); ++i) out.append(account_dict(l.account(AccountId{i})));
        return out;
      })
      .def("has_account", [](const Ledger& l, const std::string& name) { return l.find_account(name).has_value(); },
           py::arg("name"))
      .def("close_account", [](Ledger& l, const std::string& name, py::handle currency) {
        l.close_account(resolve(l, name, currency));
      }, py::arg("name"), py::arg("currency") = py::none(),
           "Closes an account; it must hold no balance and no open reservations.")
      .def("set_balance_limit", [](Ledger& l, const std::string& name, py::handle min_normal, py::handle max_normal,
                                   py::handle currency) {
        l.set_balance_limit(resolve(l, name, currency), BalanceLimit{optional_decimal(min_normal, "min_normal_balance"),
                                                                     optional_decimal(max_normal, "max_normal_balance")});
      }, py::arg("name"), py::arg("min_normal_balance") = py::none(), py::arg("max_normal_balance") = py::none(),
           py::arg("currency") = py::none())

      .def("period_state", [](const Ledger& l, py::handle period) { return std::string(to_string(l.period_state(to_period(period)))); },
           py::arg("period"))
      .def("set_period_state", [](Ledger& l, py::handle period, const std::string& state) {
        l.set_period_state(to_period(period), parse_period_state(state));
      }, py::arg("period"), py::arg("state"))
      .def("lock_period", [](Ledger& l, py::handle period) { l.set_period_state(to_period(period), PeriodState::locked); },
           py::arg("period"), "Locks a period: postings into it then need allow_locked_period=True.")
      .def("unlock_period", [](Ledger& l, py::handle period) { l.set_period_state(to_period(period), PeriodState::open); },
           py::arg("period"))
      .def("close_period", [](Ledger& l, py::handle period) { l.set_period_state(to_period(period), PeriodState::closed); },
           py::arg("period"), "Closes a period for good: it takes no postings again.")

      .def("post", [](Ledger& l, py::handle date, py::handle postings, py::handle description, py::handle idempotency_key,
                      py::handle metadata, bool allow_locked_period) {
        return l.post(make_draft(l, date, postings, description, idempotency_key, metadata, allow_locked_period)).id.value;
      }, py::arg("date"), py::arg("postings"), py::kw_only(), py::arg("description") = py::none(),
           py::arg("idempotency_key") = py::none(), py::arg("metadata") = py::none(), py::arg("allow_locked_period") = false,
           "Posts a balanced entry and returns its id; with an idempotency key a repeat returns the same id.")
      .def("reserve", [](Ledger& l, py::handle date, py::handle postings, py::handle expires_on, py::handle description,
                         py::handle idempotency_key, py::handle metadata, bool allow_locked_period) {
        return l.reserve(make_draft(l, date, postings, description, idempotency_key, metadata, allow_locked_period),
                         to_optional_date(expires_on, "expires_on")).id.value;
      }, py::arg("date"), py::arg("postings"), py::kw_only(), py::arg("expires_on") = py::none(),
           py::arg("description") = py::none(), py::arg("idempotency_key") = py::none(), py::arg("metadata") = py::none(),
           py::arg("allow_locked_period") = false,
           "Reserves a two-phase entry in pending balances; post_pending, void_pending or expiry resolves it.")
      .def("post_pending", [](Ledger& l, std::uint64_t entry_id, py::handle date, py::handle amounts, py::handle description,
                              bool allow_locked_period) {
        EntryView pending = l.entry(EntryId{entry_id});
        std::vector<Decimal> parts;
        if (py::isinstance<py::dict>(amounts)) {
          parts.assign(pending.postings.size(), Decimal());
          for (auto item : py::reinterpret_borrow<py::dict>(amounts)) {
            const std::string name = to_utf8(item.first, "account");
            std::size_t matches = 0;
            for (std::size_t i = 0; i < pending.postings.size(); ++i)
              if (l.account(pending.postings[i].account).name == name) {
                parts[i] = to_decimal(item.second);
                ++matches;
              }
            if (matches != 1)
              throw invalid_argument("account " + name + " appears " + std::to_string(matches) +
                                     " times in the reservation; pass amounts as a list in posting order");
          }
        } else if (!amounts.is_none()) {
          for (py::handle value : py::reinterpret_borrow<py::iterable>(amounts)) parts.push_back(to_decimal(value));
          if (parts.empty()) throw invalid_argument("amounts is empty; pass None to post the reservation in full");
        }
        std::string text = description.is_none() ? std::string() : to_utf8(description, "description");
        return l.post_pending(EntryId{entry_id}, to_date(date), parts, text, allow_locked_period).value;
      }, py::arg("entry_id"), py::arg("date"), py::arg("amounts") = py::none(), py::kw_only(),
           py::arg("description") = py::none(), py::arg("allow_locked_period") = false,
           "Posts a reservation in full, or in part with amounts per posting (list) or per account (dict).")
      .def("void_pending", [](Ledger& l, std::uint64_t entry_id, py::handle date, const std::string& reason) {
        l.void_pending(EntryId{entry_id}, to_date(date), reason);
      }, py::arg("entry_id"), py::arg("date"), py::arg("reason"))
      .def("expire_pending", [](Ledger& l, py::handle as_of) {
        std::vector<std::uint64_t> out;
        for (EntryId id : l.expire_pending(to_date(as_of, "as_of"))) out.push_back(id.value);
        return out;
      }, py::arg("as_of"), "Releases every reservation whose expiry date is on or before as_of; returns their ids.")
      .def("reverse", [](Ledger& l, std::uint64_t entry_id, py::handle date, const std::string& reason, bool allow_locked_period) {
        return l.reverse(EntryId{entry_id}, to_date(date), reason, allow_locked_period).value;
      }, py::arg("entry_id"), py::arg("date"), py::arg("reason"), py::kw_only(), py::arg("allow_locked_period") = false,
           "Posts the mirror of an entry and links the two; an entry can be reversed once.")

      .def("_post_entries", [](Ledger& l, const py::list& entries, bool atomic) {
        std::vector<EntryDraft> drafts;
        drafts.reserve(entries.size());
        for (std::size_t i = 0; i < entries.size(); ++i) {
          py::dict e = entries[i].cast<py::dict>();
          for (auto item : e) {
            std::string key = py::str(item.first);
            if (key != "date" && key != "postings" && key != "description" && key != "idempotency_key" &&
                key != "metadata" && key != "allow_locked_period")
              throw invalid_argument("entry " + std::to_string(i) + " of the batch has an unknown field \"" + key +
                                     "\"; use date, postings, description, idempotency_key, metadata, allow_locked_period");
          }
          auto get = [&](const char* key) { return e.contains(key) ? py::object(e[key]) : py::object(py::none()); };
          drafts.push_back(make_draft(l, get("date"), get("postings"), get("description"), get("idempotency_key"),
                                      get("metadata"), e.contains("allow_locked_period") && e["allow_locked_period"].cast<bool>()));
        }
        BatchResult result = l.post_batch(drafts, atomic ? BatchMode::atomic : BatchMode::independent);
        if (atomic && !result.failures.empty())
          raise_failure(result.failures.front(), "entry " + std::to_string(result.failures.front().index) + " of the batch: ");
        return batch_dict(result);
      })
      .def("_post_columns", &post_columns)
      .def("_load_csv", [](Ledger& l, const std::string& path, bool open_missing_accounts, const std::string& key_prefix,
                           bool atomic) {
        Ledger::CsvLoadOptions options;
        options.open_missing_accounts = open_missing_accounts;
        options.key_prefix = key_prefix;
        options.mode = atomic ? BatchMode::atomic : BatchMode::independent;
        // The GIL stays held: the book must not change under another thread.
        Ledger::CsvLoadResult result = l.load_csv(path, options);
        py::dict out;
        out["entries_posted"] = result.entries_posted;
        out["entries_existing"] = result.entries_existing;
        out["postings"] = result.postings;
        out["accounts_opened"] = result.accounts_opened;
        py::list failures;
        for (const BatchFailure& f : result.failures)
          failures.append(py::make_tuple(f.index, std::string(to_string(f.code)), f.message));
        out["failures"] = failures;
        return out;
      })

      .def("_entry", [](const Ledger& l, std::uint64_t entry_id) {
        EntryView view = l.entry(EntryId{entry_id});
        py::dict out;
        out["id"] = view.id.value;
        out["date"] = to_python(view.date);
        out["status"] = std::string(to_string(view.status));
        out["description"] = view.description;
        out["idempotency_key"] = view.idempotency_key.empty() ? py::object(py::none()) : py::object(py::str(view.idempotency_key));
        out["metadata"] = metadata_dict(view.metadata);
        py::list postings;
        for (const PostingView& p : view.postings) {
          const Account& acct = l.account(p.account);
          postings.append(py::make_tuple(acct.name, to_python(p.amount, acct.currency), std::string(acct.currency.code())));
        }
        out["postings"] = postings;
        auto link = [](EntryId id) { return id ? py::object(py::int_(id.value)) : py::object(py::none()); };
        out["reverses"] = link(view.reverses);
        out["reversed_by"] = link(view.reversed_by);
        out["completes"] = link(view.completes);
        out["completed_by"] = link(view.completed_by);
        out["expires_on"] = view.expires_on ? to_python(*view.expires_on) : py::none();
        out["resolved_on"] = view.resolved_on ? to_python(*view.resolved_on) : py::none();
        out["reason"] = view.reason.empty() ? py::object(py::none()) : py::object(py::str(view.reason));
        return out;
      })
      .def("find_by_key", [](const Ledger& l, const std::string& key) {
        auto found = l.find_by_key(key);
        return found ? py::object(py::int_(found->value)) : py::object(py::none());
      }, py::arg("idempotency_key"), "The id of the entry with this idempotency key, or None.")

      .def("balance", [](const Ledger& l, const std::string& account, py::handle as_of, py::handle currency) {
        AccountId id = resolve(l, account, currency);
        return to_python(l.balance(id, to_as_of(as_of)).posted, l.account(id).currency);
      }, py::arg("account"), py::arg("as_of") = py::none(), py::kw_only(), py::arg("currency") = py::none(),
           "Posted balance (debit positive) as of a date or period end, inclusive; None means everything so far.\n"
           "currency picks one when the name is open in several currencies.")
      .def("_balance_detail", [](const Ledger& l, const std::string& account, py::handle as_of, py::handle currency) {
        AccountId id = resolve(l, account, currency);
        Balance b = l.balance(id, to_as_of(as_of));
        Currency cur = l.account(id).currency;
        return py::make_tuple(to_python(b.posted, cur), to_python(b.pending_debits, cur), to_python(b.pending_credits, cur),
                              to_python(b.with_pending(), cur), std::string(cur.code()));
      })
      .def("rollup", [](const Ledger& l, const std::string& prefix, py::handle as_of) {
        py::dict out;
        for (const CurrencyAmount& sum : l.rollup(prefix, to_as_of(as_of)))
          out[py::str(std::string(sum.currency.code()))] = to_python(sum.amount, sum.currency);
        return out;
      }, py::arg("prefix"), py::arg("as_of") = py::none(),
           "Sum of every account at or below a name prefix (whole segments), per currency.")
      .def("_balances_by_dimension", [](const Ledger& l, const std::string& dimension, py::handle as_of, const std::string& prefix) {
        py::list out;
        for (const DimensionBalance& row : l.balances_by_dimension(dimension, to_as_of(as_of), prefix))
          out.append(py::make_tuple(row.value, std::string(row.currency.code()), to_python(row.amount, row.currency)));
        return out;
      })
      .def("_trial_balance", [](const Ledger& l, py::handle as_of) {
        TrialBalance tb = l.trial_balance(to_as_of(as_of));
        py::list rows;
        for (const TrialBalanceRow& row : tb.rows) {
          const Account& acct = l.account(row.account);
          rows.append(py::make_tuple(acct.name, std::string(to_string(acct.type)), std::string(acct.currency.code()),
                                     to_python(row.debit, acct.currency), to_python(row.credit, acct.currency)));
        }
        py::list totals;
        for (std::size_t i = 0; i < tb.total_debits.size(); ++i)
          totals.append(py::make_tuple(std::string(tb.total_debits[i].currency.code()),
                                       to_python(tb.total_debits[i].amount, tb.total_debits[i].currency),
                                       to_python(tb.total_credits[i].amount, tb.total_credits[i].currency)));
        return py::make_tuple(rows, totals);
      })
      .def("_statement", [](const Ledger& l, const std::string& account, py::handle start, py::handle end,
                            py::handle currency) {
        AccountId id = resolve(l, account, currency);
        Statement st = l.statement(id, to_optional_date(start, "start"), to_optional_date(end, "end"));
        const Currency cur = l.account(id).currency;
        py::list lines;
        for (const StatementLine& line : st.lines)
          lines.append(py::make_tuple(to_python(line.date), line.entry.value, line.description, to_python(line.amount, cur),
                                      to_python(line.running_balance, cur)));
        return py::make_tuple(to_python(st.opening_balance, cur), lines, to_python(st.closing_balance, cur),
                              std::string(cur.code()));
      })
      .def("_activity", [](const Ledger& l, py::handle first, py::handle last) {
        std::optional<Period> from, to;
        if (!first.is_none()) from = to_period(first);
        if (!last.is_none()) to = to_period(last);
        py::list out;
        for (const ActivityRow& row : l.activity(from, to)) {
          const Account& acct = l.account(row.account);
          out.append(py::make_tuple(acct.name, std::string(acct.currency.code()), row.period.to_string(),
                                    to_python(row.debits, acct.currency), to_python(row.credits, acct.currency),
                                    to_python(row.net(), acct.currency)));
        }
        return out;
      })
      .def("_balance_report", [](const Ledger& l, py::handle as_of) {
        py::list out;
        for (const ReportLine& line : l.balance_report(to_as_of(as_of)))
          out.append(py::make_tuple(line.name, line.depth, std::string(line.currency.code()), to_python(line.amount, line.currency)));
        return out;
      })
      .def("_journal", [](const Ledger& l) { return l.to_journal(); })
      .def("_write_journal", [](const Ledger& l, const std::string& path) {
        check_text("journal path", path);  // the file system would write a shorter name
        std::ofstream out(path, std::ios::binary | std::ios::trunc);
        if (!out) throw io_error("can't write " + path);
        l.write_journal(out);
        out.flush();
        if (!out) throw io_error("can't write " + path);
      })
      .def("_postings", [](const Ledger& l) { return posting_columns_to_python(l.posting_columns()); });
}

}  // namespace amends::python

