#pragma once
// Accounts (the companies the business deals with) and their contacts (the people).
// A lead that is qualified becomes an opportunity on an account with a contact; a lead is
// linked to an account early when its company domain matches one.

#include <string>

#include "domain/clock.h"

namespace ciclo {

struct Account {
  std::string id;
  std::string name;
  std::string domain;  // company domain, unique among accounts when set
  std::string vat_id;
  std::string country;
  std::string industry;
  Timestamp created_at{};
  Timestamp updated_at{};
  bool operator==(const Account&) const = default;
};

struct Contact {
  std::string id;
  std::string account_id;
  std::string first_name, last_name, email, phone, job_title;
  Timestamp created_at{};
  Timestamp updated_at{};
  bool operator==(const Contact&) const = default;
};

}  // namespace ciclo
