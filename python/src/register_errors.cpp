// One exception tree under amends.AmendsError, mapped from the C++ tree.
#include <array>

#include "convert.hpp"

namespace amends::python {

namespace {

struct Classes {
  PyObject* amends_error = nullptr;
  PyObject* parse_error = nullptr;
  PyObject* overflow = nullptr;
  PyObject* invalid_argument = nullptr;
  PyObject* invalid_text = nullptr;
  PyObject* unknown_currency = nullptr;
  PyObject* currency_mismatch = nullptr;
  PyObject* amount_too_precise = nullptr;
  PyObject* invalid_entry = nullptr;
  PyObject* unbalanced_entry = nullptr;
  PyObject* unknown_account = nullptr;
  PyObject* account_closed = nullptr;
  PyObject* account_exists = nullptr;
  PyObject* period_closed = nullptr;
  PyObject* period_locked = nullptr;
  PyObject* invalid_period_transition = nullptr;
  PyObject* balance_limit_exceeded = nullptr;
  PyObject* idempotency_conflict = nullptr;
  PyObject* entry_not_found = nullptr;
  PyObject* already_reversed = nullptr;
  PyObject* pending_state_error = nullptr;
  PyObject* batch_too_large = nullptr;
  PyObject* io_error = nullptr;
  PyObject* store_error = nullptr;
  PyObject* schema_error = nullptr;
  PyObject* invalid_name = nullptr;
  PyObject* not_authorised = nullptr;
  PyObject* impersonation = nullptr;
};

Classes classes;

PyObject* make(py::module_& m, const char* name, std::initializer_list<PyObject*> bases, const char* doc) {
  py::tuple base_tuple(bases.size());
  std::size_t i = 0;
  for (PyObject* base : bases) base_tuple[i++] = py::reinterpret_borrow<py::object>(base);
  std::string qualified = std::string("amends.") + name;
  PyObject* cls = PyErr_NewExceptionWithDoc(qualified.c_str(), doc, base_tuple.ptr(), nullptr);
  if (!cls) throw py::error_already_set();
  m.add_object(name, py::reinterpret_borrow<py::object>(cls));
  return cls;
}

}  // namespace

void register_errors(py::module_& m) {
  Classes& c = classes;
  c.amends_error = make(m, "AmendsError", {PyExc_Exception}, "Root of every error amends raises.");
  c.parse_error = make(m, "ParseError", {c.amends_error, PyExc_ValueError}, "Text that does not parse (amount, date, CSV).");
  c.overflow = make(m, "AmountOverflow", {c.amends_error, PyExc_ArithmeticError}, "Arithmetic beyond the exact range.");
  c.invalid_argument = make(m, "InvalidArgument", {c.amends_error, PyExc_ValueError}, "A value the operation does not accept.");
  c.invalid_text = make(m, "InvalidText", {c.invalid_argument},
                        "Text no back end can keep (a NUL byte), naming the field; nothing changed.");
  c.unknown_currency = make(m, "UnknownCurrency", {c.amends_error, PyExc_ValueError}, "Not an ISO 4217 currency code.");
  c.currency_mismatch = make(m, "CurrencyMismatch", {c.amends_error, PyExc_ValueError}, "Amounts in different currencies.");
  c.amount_too_precise = make(m, "AmountTooPrecise", {c.amends_error, PyExc_ValueError},
                              "An amount finer than its currency's minor unit.");
  c.invalid_entry = make(m, "InvalidEntry", {c.amends_error}, "An entry the ledger refuses.");
  c.unbalanced_entry = make(m, "UnbalancedEntry", {c.invalid_entry}, "Postings that do not sum to zero per currency.");
  c.unknown_account = make(m, "UnknownAccount", {c.amends_error}, "No account by that name or id.");
  c.account_closed = make(m, "AccountClosed", {c.amends_error}, "A closed account takes no postings.");
  c.account_exists = make(m, "AccountExists", {c.amends_error}, "An account by that name exists already.");
  c.period_closed = make(m, "PeriodClosed", {c.amends_error}, "A closed period takes no postings.");
  c.period_locked = make(m, "PeriodLocked", {c.amends_error}, "A locked period takes postings only with an override.");
  c.invalid_period_transition = make(m, "InvalidPeriodTransition", {c.amends_error}, "A period state change not allowed.");
  c.balance_limit_exceeded = make(m, "BalanceLimitExceeded", {c.amends_error}, "A posting that would breach a balance limit.");
  c.idempotency_conflict = make(m, "IdempotencyConflict", {c.amends_error},
                                "An idempotency key reused for different content.");
  c.entry_not_found = make(m, "EntryNotFound", {c.amends_error, PyExc_LookupError}, "No entry with that id.");
  c.already_reversed = make(m, "AlreadyReversed", {c.amends_error}, "An entry can be reversed once.");
  c.pending_state_error = make(m, "PendingStateError", {c.amends_error},
                               "A two-phase operation on an entry in the wrong state.");
  c.batch_too_large = make(m, "BatchTooLarge", {c.amends_error}, "A batch beyond the maximum size.");
  c.io_error = make(m, "AmendsIOError", {c.amends_error, PyExc_OSError}, "A file amends could not read or write.");
  c.store_error = make(m, "StoreError", {c.amends_error},
                       "PostgreSQL unreachable, a lost connection, or a write the database refused; nothing half-written.");
  c.schema_error = make(m, "SchemaError", {c.store_error}, "A database without the amends schema, or with an older or newer one than this amends; or a migration refused (not the owner) or failed.");
  c.invalid_name = make(m, "InvalidName", {c.invalid_argument}, "A person's name that is not UTF-8, holds a control character, or is blank.");
  c.not_authorised = make(m, "NotAuthorised", {c.amends_error, PyExc_PermissionError},
                          "An action the logged-in person may not take (no person bound to the login, not an admin, "
                          "a caller-chosen clock in a book that keeps the database's); nothing changed.");
  c.impersonation = make(m, "Impersonation", {c.not_authorised},
                         "An action in someone else's name: the actor is not the person the login is bound to; nothing changed.");

  // Most derived first: the first matching clause wins.
  py::register_exception_translator([](std::exception_ptr failure) {
    try {
      if (failure) std::rethrow_exception(failure);
    } catch (const impersonation& e) { PyErr_SetString(classes.impersonation, e.what());
    } catch (const not_authorised& e) { PyErr_SetString(classes.not_authorised, e.what());
    } catch (const unbalanced_entry& e) { PyErr_SetString(classes.unbalanced_entry, e.what());
    } catch (const invalid_entry& e) { PyErr_SetString(classes.invalid_entry, e.what());
    } catch (const parse_error& e) { PyErr_SetString(classes.parse_error, e.what());
    } catch (const overflow_error& e) { PyErr_SetString(classes.overflow, e.what());
    } catch (const invalid_name& e) { PyErr_SetString(classes.invalid_name, e.what());
    } catch (const invalid_text& e) { PyErr_SetString(classes.invalid_text, e.what());
    } catch (const invalid_argument& e) { PyErr_SetString(classes.invalid_argument, e.what());
    } catch (const unknown_currency& e) { PyErr_SetString(classes.unknown_currency, e.what());
    } catch (const currency_mismatch& e) { PyErr_SetString(classes.currency_mismatch, e.what());
    } catch (const amount_too_precise& e) { PyErr_SetString(classes.amount_too_precise, e.what());
    } catch (const unknown_account& e) { PyErr_SetString(classes.unknown_account, e.what());
    } catch (const account_closed& e) { PyErr_SetString(classes.account_closed, e.what());
    } catch (const account_exists& e) { PyErr_SetString(classes.account_exists, e.what());
    } catch (const period_closed& e) { PyErr_SetString(classes.period_closed, e.what());
    } catch (const period_locked& e) { PyErr_SetString(classes.period_locked, e.what());
    } catch (const invalid_period_transition& e) { PyErr_SetString(classes.invalid_period_transition, e.what());
    } catch (const balance_limit_exceeded& e) { PyErr_SetString(classes.balance_limit_exceeded, e.what());
    } catch (const idempotency_conflict& e) { PyErr_SetString(classes.idempotency_conflict, e.what());
    } catch (const entry_not_found& e) { PyErr_SetString(classes.entry_not_found, e.what());
    } catch (const already_reversed& e) { PyErr_SetString(classes.already_reversed, e.what());
    } catch (const pending_state_error& e) { PyErr_SetString(classes.pending_state_error, e.what());
    } catch (const batch_too_large& e) { PyErr_SetString(classes.batch_too_large, e.what());
    } catch (const io_error& e) { PyErr_SetString(classes.io_error, e.what());
    } catch (const schema_error& e) { PyErr_SetString(classes.schema_error, e.what());
    } catch (const store_error& e) { PyErr_SetString(classes.store_error, e.what());
    } catch (const error& e) { PyErr_SetString(classes.amends_error, e.what());
    }
  });
}

py::handle exception_for(ResultCode code) {
  switch (code) {
    case ResultCode::unbalanced: return classes.unbalanced_entry;
    case ResultCode::unknown_account: return classes.unknown_account;
    case ResultCode::account_closed: return classes.account_closed;
    case ResultCode::currency_mismatch: return classes.currency_mismatch;
    case ResultCode::amount_too_precise: return classes.amount_too_precise;
    case ResultCode::period_closed: return classes.period_closed;
    case ResultCode::period_locked: return classes.period_locked;
    case ResultCode::balance_limit_exceeded: return classes.balance_limit_exceeded;
    case ResultCode::idempotency_conflict: return classes.idempotency_conflict;
    case ResultCode::overflow: return classes.overflow;
    case ResultCode::invalid_text: return classes.invalid_text;
    case ResultCode::ok:
    case ResultCode::exists:
    case ResultCode::linked_entry_failed:
    case ResultCode::invalid_entry:
      return classes.invalid_entry;
  }
  return classes.amends_error;
}

}  // namespace amends::python
