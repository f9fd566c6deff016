#pragma once
// Sellers' activities on records, stored as JSON documents beside their record id.

#include <Poco/JSON/Object.h>

#include <optional>
#include <string>
#include <vector>

#include "domain/activity.h"
#include "store/database.h"

namespace ciclo::store {

Poco::JSON::Object::Ptr activityToJson(const Activity& a);
void insertActivity(Connection& c, const Activity& a);
std::optional<Activity> findActivity(Connection& c, const std::string& id);
// In creation order; limit + 1 rows when there are more.
std::vector<Activity> listActivities(Connection& c, const std::string& recordId,
                                     const std::string& afterId, int limit);

}  // namespace ciclo::store
