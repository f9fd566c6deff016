#pragma once
// The lead's JSON document: the form it is stored in and the form the API serves.

#include <Poco/JSON/Object.h>

#include "domain/lead.h"

namespace ciclo::store {

Poco::JSON::Object::Ptr leadToJson(const Lead& lead);
Poco::JSON::Object::Ptr touchToJson(const Touch& touch);
// The same documents written straight to text, for the paths where a lead is serialised on
// every request; byte for byte what toJsonText(leadToJson(lead)) gives.
std::string leadToJsonText(const Lead& lead);
std::string touchToJsonText(const Touch& touch);
// Reads a stored document back. Throws Poco::Exception on a document that is not ours.
Lead leadFromJson(const Poco::JSON::Object& doc);
Lead leadFromJson(const std::string& doc);

std::string toJsonText(const Poco::JSON::Object::Ptr& object);

// An empty object that writes its members in the order they are set, as every document here.
Poco::JSON::Object::Ptr jsonObject();
// A text member's value: null when the text is empty.
Poco::Dynamic::Var textOrNull(const std::string& text);

}  // namespace ciclo::store
