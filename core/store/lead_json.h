#pragma once
// The lead's JSON document: the form it is stored in and the form the API serves.

#include <Poco/JSON/Object.h>

#include "domain/lead.h"

namespace ciclo::store {

Poco::JSON::Object::Ptr leadToJson(const Lead& lead);
Poco::JSON::Object::Ptr touchToJson(const Touch& touch);
// Reads a stored document back. Throws Poco::Exception on a document that is not ours.
Lead leadFromJson(const Poco::JSON::Object& doc);
Lead leadFromJson(const std::string& doc);

std::string toJsonText(const Poco::JSON::Object::Ptr& object);

}  // namespace ciclo::store
