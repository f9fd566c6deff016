// The web form plugin: landing pages post their forms here (CONTRACT.md section 1), and
// operators manage the forms through the admin API. See README.md.

#include <Poco/Base64Encoder.h>
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Parser.h>

#include <algorithm>
#include <atomic>
#include <map>
#include <shared_mutex>
#include <sstream>
#include <variant>

#include "ciclo/plugin.h"
#include "ciclo/text.h"
#include "form.h"
#include "json.h"
#include "submission.h"
#include "support/rate_limiter.h"

namespace ciclo::plugins::webform {

extern const char* const kEmbedJs;

namespace {

using sdk::HttpRequest;
using sdk::HttpResponse;

constexpr std::size_t kMaxBody = 64 * 1024;
constexpr char kCrockford[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

std::string base64Url(const std::string& bytes) {
  std::ostringstream out;
  Poco::Base64Encoder encoder(out, Poco::BASE64_URL_ENCODING | Poco::BASE64_NO_PADDING);
  encoder << bytes;
  encoder.close();
  return out.str();
}

bool truthy(const std::string& value) {
  return sdk::parseYesNo(value).value_or(false);
}

class Webform : public sdk::Plugin {
 public:
  sdk::Status start(sdk::Context& ctx) override {
    ctx_ = &ctx;
    auto& config = ctx.config();
    personas_ = ctx.leads().personas();
    auto forms = config.section("forms");
    for (const auto& key : forms->keys()) {
      auto section = forms->section(key);
      auto form = std::make_shared<Form>(formFromConfig(key, *section, personas_));
      forms_[key] = std::move(form);
    }
    forms->finish();
    config.finish();

    auto& storage = ctx.storage();
    if (auto st = storage.migrate({{1,
                                    {"CREATE TABLE p_webform_forms (form_key TEXT PRIMARY KEY, "
                                     "doc TEXT NOT NULL, created_at TEXT NOT NULL, "
                                     "updated_at TEXT NOT NULL)",
                                     "CREATE TABLE p_webform_secrets (name TEXT PRIMARY KEY, "
                                     "sealed TEXT NOT NULL)"}}});
        !st.ok())
      return st;
    if (auto st = loadSigningKey(); !st.ok()) return st;
    if (auto st = loadStoredForms(); !st.ok()) return st;

    auto& routes = ctx.routes();
    sdk::RoutePolicy submission{
        "",
        kMaxBody,
        {"application/x-www-form-urlencoded", "multipart/form-data", "application/json"}};
    sdk::RoutePolicy open{"", 0, {}};
    sdk::RoutePolicy admin{"forms:admin", kMaxBody, {"application/json"}};
    // Submissions are answered once their capture is committed (see submit()).
    auto submitLater = [this](const HttpRequest& r, const sdk::Answer& answer) {
      submit(r, answer);
    };
    for (auto st : {
             routes.addLater("POST", "/v1/forms/{form}/submissions", submission, submitLater),
             routes.add("OPTIONS", "/v1/forms/{form}/submissions", open,
                        [this](const HttpRequest& r) { return preflight(r); }),
             routes.add("GET", "/v1/forms/{form}/embed.js", open,
                        [this](const HttpRequest& r) { return embed(r); }),
             routes.add("GET", "/v1/forms", admin,
                        [this](const HttpRequest& r) { return listForms(r); }),
             routes.add("POST", "/v1/forms", admin,
                        [this](const HttpRequest& r) { return createForm(r); }),
             routes.add("GET", "/v1/forms/{form}", admin,
                        [this](const HttpRequest& r) { return getForm(r); }),
             routes.add("PUT", "/v1/forms/{form}", admin,
                        [this](const HttpRequest& r) { return replaceForm(r); }),
             routes.add("DELETE", "/v1/forms/{form}", admin,
                        [this](const HttpRequest& r) { return deleteForm(r); }),
         }) {
      if (!st.ok()) return st;
    }
    return sdk::Status();
  }

  void stop() override {}

 private:
  // ---- forms

  FormPtr find(const std::string& key) const {
    std::shared_lock lock(formsMutex_);
    auto it = forms_.find(key);
    return it == forms_.end() ? nullptr : it->second;
  }

  sdk::Status loadStoredForms() {
    std::vector<sdk::SqlRow> rows;
    auto st = ctx_->storage().read([&](sdk::Tx& tx) -> sdk::Status {
      auto r = tx.query("SELECT form_key, doc FROM p_webform_forms ORDER BY form_key");
      if (!r.ok()) return r.error();
      rows = std::move(r.value());
      return sdk::Status();
    });
    if (!st.ok()) return st;
    for (const auto& row : rows) {
      const auto& key = std::get<std::string>(row[0]);
      if (forms_.contains(key)) {
        ctx_->log().warning("form " + key +
                            " is defined in the configuration file and through the API; the "
                            "configuration file's definition is used");
        continue;
      }
      auto form = parseStored(key, std::get<std::string>(row[1]));
      if (!form.ok()) {
        return sdk::Error{sdk::ErrorKind::kInternal,
                          "stored form " + key + " is unreadable: " + form.error().message,
                          {},
                          {}};
      }
      forms_[key] = std::make_shared<Form>(std::move(form.value()));
    }
    return sdk::Status();
  }

  static sdk::Result<Form> parseStored(const std::string& key, const std::string& doc) {
    try {
      Poco::JSON::Parser parser;
      auto o = parser.parse(doc).extract<Poco::JSON::Object::Ptr>();
      return formFromJson(key, *o);
    } catch (const Poco::Exception& e) {
      return sdk::Error{sdk::ErrorKind::kInternal, e.message(), {}, {}};
    }
  }

  // The key that signs the fill-time tokens: made once, kept sealed, shared by every daemon
  // on the store, so that a page loaded before a restart still submits.
  sdk::Status loadSigningKey() {
    auto& storage = ctx_->storage();
    // The first daemon's key wins; a daemon starting at the same moment reads it back.
    return storage.write([&](sdk::Tx& tx) -> sdk::Status {
      auto made = tx.exec(
          "INSERT INTO p_webform_secrets (name, sealed) VALUES ($1, $2) "
          "ON CONFLICT (name) DO NOTHING",
          {"started", ctx_->crypto().seal(ctx_->crypto().randomToken(32))});
      if (!made.ok()) return made.error();
      auto rows = tx.query("SELECT sealed FROM p_webform_secrets WHERE name = $1", {"started"});
      if (!rows.ok()) return rows.error();
      auto opened = ctx_->crypto().open(std::get<std::string>(rows.value().at(0).at(0)));
      if (!opened.ok()) return opened.error();
      signingKey_ = opened.value();
      return sdk::Status();
    });
  }

  std::string startedToken(const Form& form) {
    const std::string ms = std::to_string(ctx_->clock().now().time_since_epoch().count());
    return ms + "." + base64Url(ctx_->crypto().hmacSha256(signingKey_, form.key + "." + ms));
  }

  // How long the visitor took, from the token the embed script put in the form; nullopt
  // when the token is forged or damaged.
  std::optional<std::chrono::milliseconds> fillTime(const Form& form, const std::string& token) {
    const auto dot = token.find('.');
    if (dot == std::string::npos || dot == 0 || dot > 15) return std::nullopt;
    const std::string ms = token.substr(0, dot);
    if (!std::all_of(ms.begin(), ms.end(), [](char c) { return c >= '0' && c <= '9'; }))
      return std::nullopt;
    const std::string expected =
        base64Url(ctx_->crypto().hmacSha256(signingKey_, form.key + "." + ms));
    if (!ctx_->crypto().constantTimeEquals(expected, token.substr(dot + 1))) return std::nullopt;
    const auto now = ctx_->clock().now().time_since_epoch();
    return std::chrono::duration_cast<std::chrono::milliseconds>(now) -
           std::chrono::milliseconds(std::stoll(ms));
  }

  // ---- the public routes

  // The origin a browser says the post comes from: Origin, else the Referer's origin.
  static std::string requestOrigin(const HttpRequest& r, bool& present) {
    const std::string origin = r.header("Origin");
    if (!origin.empty()) {
      present = true;
      return origin == "null" ? std::string() : origin;
    }
    const std::string referer = r.header("Referer");
    present = !referer.empty();
    return present ? originOf(referer) : std::string();
  }

  static void addCors(HttpResponse& response, const HttpRequest& r) {
    addCors(response, r.header("Origin"));
  }

  static void addCors(HttpResponse& response, const std::string& origin) {
    if (origin.empty()) return;
    response.headers.emplace_back("Access-Control-Allow-Origin", origin);
    response.headers.emplace_back("Vary", "Origin");
  }

  static HttpResponse unknownForm(const std::string& key) {
    return sdk::problem(404, "form-not-found", "Not found",
                        "there is no form " + key.substr(0, 64));
  }

  HttpResponse preflight(const HttpRequest& r) {
    const FormPtr form = find(r.params.at("form"));
    if (!form) return unknownForm(r.params.at("form"));
    const std::string origin = r.header("Origin");
    if (!form->allowsOrigin(origin)) {
      return sdk::problem(403, "origin-not-allowed", "Forbidden",
                          "this form does not accept posts from that origin");
    }
    HttpResponse response{204, "", "", {}};
    addCors(response, r);
    response.headers.emplace_back("Access-Control-Allow-Methods", "POST");
    response.headers.emplace_back("Access-Control-Allow-Headers",
                                  "Content-Type, Accept, Idempotency-Key");
    response.headers.emplace_back("Access-Control-Max-Age", "600");
    return response;
  }

  HttpResponse embed(const HttpRequest& r) {
    const FormPtr form = find(r.params.at("form"));
    if (!form) return unknownForm(r.params.at("form"));
    JsonObject settings = jsonObject();
    settings->set("form", form->key);
    settings->set("started", startedToken(*form));
    settings->set("thank_you_url", form->thank_you_url);
    settings->set("thanks", "Thank you, we received your request.");
    settings->set("failed", "The form could not be sent; please try again.");
    return HttpResponse{200,
                        "text/javascript; charset=utf-8",
                        std::string(kEmbedJs) + "(" + toJson(settings) + ");\n",
                        {}};
  }

  // A submission is answered once its capture is committed, and no thread waits for that.
  void submit(const HttpRequest& r, const sdk::Answer& answer) {
    const std::string key = r.params.at("form");
    const FormPtr form = find(key);
    if (!form) return answer(unknownForm(key));

    bool originPresent = false;
    const std::string origin = requestOrigin(r, originPresent);
    if (originPresent ? !form->allowsOrigin(origin) : !form->allow_without_origin) {
      ctx_->metrics().count("refused_origin");
      return answer(sdk::problem(403, "origin-not-allowed", "Forbidden",
                                 originPresent
                                     ? "this form does not accept posts from that origin"
                                     : "this form accepts posts only from its own pages"));
    }
    if (auto wait =
            limiter_.take(r.client_ip + "|" + form->key,
                          Rate::perMinute(form->rate_limit.per_minute, form->rate_limit.burst),
                          ctx_->clock().now())) {
      ctx_->metrics().count("rate_limited");
      HttpResponse response = sdk::problem(429, "too-many-submissions", "Too many requests",
                                           "this form was sent too often from here; wait a "
                                           "little and send it again");
      response.headers.emplace_back("Retry-After",
                                    std::to_string(std::max<long long>(1, wait->count())));
      addCors(response, r);
      return answer(std::move(response));
    }

    const std::string type = mediaType(r.header("Content-Type"));
    const bool html =
        type != "application/json" && r.header("Accept").find("text/html") != std::string::npos;
    auto submission = captureOf(*form, r, html);
    if (auto* decided = std::get_if<HttpResponse>(&submission)) {
      addCors(*decided, r);
      return answer(std::move(*decided));
    }
    auto& capture = std::get<Capture>(submission);
    ctx_->leads().capture(capture.input, capture.idempotency_key,
                          [this, form, html, origin = r.header("Origin"),
                           answer](const sdk::Result<sdk::CaptureResult>& captured) {
                            HttpResponse response = captureAnswer(*form, captured, html);
                            addCors(response, origin);
                            answer(std::move(response));
                          });
  }

  // The lead capture a submission asks for.
  struct Capture {
    sdk::LeadInput input;
    std::string idempotency_key;  // scoped to the form; empty without one
  };

  // The capture a submission asks for, or the answer it gets without one: field errors, or a
  // trap's decoy success.
  std::variant<Capture, HttpResponse> captureOf(const Form& form, const HttpRequest& r, bool html) {
    auto parsed = parseSubmission(r.header("Content-Type"), r.body);
    if (!parsed.ok()) {
      if (parsed.error().kind == sdk::ErrorKind::kInvalid)
        return invalid(form, parsed.error().fields, html);
      return sdk::problem(parsed.error());
    }

    sdk::LeadInput in;
    std::map<std::string, std::string> values;  // canonical name -> value
    std::vector<sdk::FieldError> errors;
    std::string submissionId, started;
    bool trapped = false;
    for (auto& [sent, value] : parsed.value()) {
      if (!form.honeypot.empty() && sent == form.honeypot) {
        trapped = trapped || !sdk::trimmed(value).empty();
        continue;
      }
      if (sent == kSubmissionIdField) {
        submissionId = value;
        continue;
      }
      if (sent == kStartedField) {
        started = value;
        continue;
      }
      std::string canonical;
      if (auto it = form.fields.find(sent); it != form.fields.end()) {
        canonical = it->second;
      } else if (isCanonicalField(sent)) {
        canonical = sent;
      } else if (std::find(form.custom_fields.begin(), form.custom_fields.end(), sent) !=
                 form.custom_fields.end()) {
        if (in.custom.contains(sent)) {
          errors.push_back({sent, "is given more than once"});
        } else if (value.size() > static_cast<std::size_t>(form.max_custom_bytes)) {
          errors.push_back(
              {sent, "must be at most " + std::to_string(form.max_custom_bytes) + " bytes"});
        } else {
          in.custom[sent] = value;
        }
        continue;
      } else {
        continue;  // a field this form does not keep
      }
      if (!values.emplace(canonical, std::move(value)).second)
        errors.push_back({sent, "is given more than once"});
    }

    if (trapped) return trap(form, "honeypot", html);
    if (!started.empty()) {
      const auto took = fillTime(form, started);
      if (!took) return trap(form, "forged_token", html);
      if (*took < std::chrono::seconds(form.min_fill_seconds)) return trap(form, "too_fast", html);
    }

    for (const auto& name : form.required) {
      auto it = values.find(name);
      if (it == values.end() || sdk::trimmed(it->second).empty())
        errors.push_back({form.sentName(name), "is required"});
    }
    if (!errors.empty()) return invalid(form, errors, html);

    auto value = [&](const char* name) {
      auto it = values.find(name);
      return it == values.end() ? std::string() : it->second;
    };
    in.email = value("email");
    in.first_name = value("first_name");
    in.last_name = value("last_name");
    in.phone = value("phone");
    in.company = value("company");
    in.job_title = value("job_title");
    in.website = value("website");
    in.country = sdk::trimmed(value("country"));
    std::transform(in.country.begin(), in.country.end(), in.country.begin(),
                   [](unsigned char c) { return std::toupper(c); });
    in.city = value("city");
    in.needs = value("message");
    in.source = "web_form";
    in.channel = "web_form:" + form.key;
    in.page_url = value("page_url");
    if (in.page_url.empty()) {
      const std::string referer = r.header("Referer");
      if (referer.size() <= 2048 && !originOf(referer).empty()) in.page_url = referer;
    }
    // Without JavaScript the UTM fields are not in the form, but in the page's address.
    const Fields pageQuery = queryParameters(in.page_url);
    auto utm = [&](const char* name) {
      std::string v = value(name);
      for (auto it = pageQuery.begin(); v.empty() && it != pageQuery.end(); ++it) {
        if (it->first == name) v = it->second;
      }
      return v;
    };
    in.utm_source = utm("utm_source");
    in.utm_medium = utm("utm_medium");
    in.utm_campaign = utm("utm_campaign");
    if (in.utm_campaign.empty()) in.utm_campaign = form.campaign;
    in.utm_term = utm("utm_term");
    in.utm_content = utm("utm_content");
    in.consent_granted = truthy(value("consent_marketing"));
    if (in.consent_granted) {
      in.consent_text = form.consent_text;
      in.consent_source = "web_form:" + form.key;
      in.consent_ip = r.client_ip;
      in.consent_page = in.page_url;
    }
    in.persona = form.persona;

    std::string idempotencyKey = r.header("Idempotency-Key");
    if (idempotencyKey.empty()) idempotencyKey = submissionId;
    if (idempotencyKey.size() > 200 || !std::all_of(idempotencyKey.begin(), idempotencyKey.end(),
                                                    [](char c) { return c > 0x20 && c < 0x7f; })) {
      return invalid(form,
                     {{r.header("Idempotency-Key").empty() ? kSubmissionIdField : "Idempotency-Key",
                       "must be 1 to 200 printable ASCII characters"}},
                     html);
    }
    return Capture{std::move(in),
                   idempotencyKey.empty() ? std::string() : form.key + ":" + idempotencyKey};
  }

  // What a submission gets once its capture is done.
  HttpResponse captureAnswer(const Form& form, const sdk::Result<sdk::CaptureResult>& captured,
                             bool html) {
    if (!captured.ok()) {
      const auto& e = captured.error();
      if (e.kind == sdk::ErrorKind::kConflict) {  // the same submission, still in flight
        HttpResponse busy = sdk::problem(e);
        busy.headers.emplace_back("Retry-After", "1");
        return busy;
      }
      if (e.kind != sdk::ErrorKind::kInvalid) return sdk::problem(e);
      std::vector<sdk::FieldError> named;
      for (const auto& f : e.fields) named.push_back({sentFieldName(form, f.field), f.message});
      if (named.empty()) return sdk::problem(e);  // e.g. the key was used for another submission
      return invalid(form, named, html);
    }
    ctx_->metrics().count(captured.value().replayed ? "replayed" : "captured");
    return success(form, captured.value().lead_id, captured.value().outcome == "created", html);
  }

  // The name a field has on the page, from the name the lead capture gave it.
  static std::string sentFieldName(const Form& form, const std::string& field) {
    if (field == "needs") return form.sentName("message");
    if (field.starts_with("custom.")) return field.substr(7);
    if (field.starts_with("consent_")) return form.sentName("consent_marketing");
    if (isCanonicalField(field)) return form.sentName(field);
    return field;
  }

  // A capture that matched an existing lead - changed or not - is "merged" for a form.
  HttpResponse success(const Form& form, const std::string& leadId, bool created, bool html) {
    if (html) {
      if (!form.thank_you_url.empty()) return redirect(form.thank_you_url);
      return page(200, "Thank you", "<p>Thank you, we received your request.</p>");
    }
    // Written out rather than through a JSON object: every submission is answered with it.
    return HttpResponse{created ? 201 : 200,
                        "application/json",
                        "{\"lead_id\":" + sdk::jsonString(leadId) + ",\"outcome\":\"" +
                            (created ? "created" : "merged") + "\"}",
                        {}};
  }

  // A bot gets what a person would, and nothing is created.
  HttpResponse trap(const Form& form, const std::string& why, bool html) {
    ctx_->metrics().count("trapped");
    ctx_->metrics().count("trapped_" + why);
    return success(form, decoyLeadId(), true, html);
  }

  // Shaped like a lead id (a ULID: time, then randomness), and the id of no lead.
  std::string decoyLeadId() {
    std::string id = "lead_";
    auto ms = static_cast<unsigned long long>(ctx_->clock().now().time_since_epoch().count());
    std::string time(10, '0');
    for (int i = 9; i >= 0; --i, ms >>= 5) time[static_cast<std::size_t>(i)] = kCrockford[ms & 31];
    id += time;
    const std::string random = ctx_->crypto().randomToken(16);
    for (std::size_t i = 0; i < 16; ++i)
      id += kCrockford[static_cast<unsigned char>(random[i]) & 31];
    return id;
  }

  HttpResponse invalid(const Form& form, const std::vector<sdk::FieldError>& errors, bool html) {
    ctx_->metrics().count("invalid");
    if (!html) {
      return sdk::problem(422, "invalid", "Invalid input", "The form has invalid fields.", errors);
    }
    if (!form.error_url.empty()) {
      std::string url = form.error_url;
      char sep = url.find('?') == std::string::npos ? '?' : '&';
      for (const auto& e : errors) {
        url += sep + std::string("error=") + sdk::percentEncode(e.field + ": " + e.message);
        sep = '&';
      }
      return redirect(url);
    }
    std::string list;
    for (const auto& e : errors)
      list += "<li><b>" + htmlEscape(e.field) + "</b>: " + htmlEscape(e.message) + "</li>";
    return page(422, "Please check the form",
                "<p>Some fields need another look:</p><ul>" + list +
                    "</ul><p>Go back, correct them and send the form again.</p>");
  }

  static HttpResponse redirect(const std::string& url) {
    return HttpResponse{303, "", "", {{"Location", url}}};
  }

  static HttpResponse page(int status, const std::string& title, const std::string& content) {
    return HttpResponse{status,
                        "text/html; charset=utf-8",
                        "<!doctype html><html><head><meta charset=\"utf-8\"><title>" +
                            htmlEscape(title) + "</title></head><body><h1>" + htmlEscape(title) +
                            "</h1>" + content + "</body></html>\n",
                        {}};
  }

  // ---- the admin API (scope forms:admin)

  HttpResponse listForms(const HttpRequest&) {
    Poco::JSON::Array::Ptr data = new Poco::JSON::Array;
    {
      std::shared_lock lock(formsMutex_);
      for (const auto& [key, form] : forms_) data->add(formToJson(*form));
    }
    JsonObject body = jsonObject();
    body->set("data", data);
    return jsonAnswer(200, body);
  }

  HttpResponse getForm(const HttpRequest& r) {
    const FormPtr form = find(r.params.at("form"));
    if (!form) return unknownForm(r.params.at("form"));
    return jsonAnswer(200, formToJson(*form));
  }

  HttpResponse createForm(const HttpRequest& r) {
    auto o = parseJsonObject(r.body, 8);
    if (!o.ok()) return sdk::problem(o.error());
    const auto v = o.value()->get("key");
    if (!v.isString())
      return sdk::problem({sdk::ErrorKind::kInvalid,
                           "The form has invalid settings.",
                           {{"/key", "is required: 1 to 64 characters of a-z, 0-9, - and _"}},
                           {}});
    return store(v.extract<std::string>(), *o.value(), true);
  }

  HttpResponse replaceForm(const HttpRequest& r) {
    auto o = parseJsonObject(r.body, 8);
    if (!o.ok()) return sdk::problem(o.error());
    const std::string key = r.params.at("form");
    const auto sent = o.value()->get("key");
    if (!sent.isEmpty() && (!sent.isString() || sent.extract<std::string>() != key))
      return sdk::problem({sdk::ErrorKind::kInvalid,
                           "The form has invalid settings.",
                           {{"/key", "must be the key in the path"}},
                           {}});
    if (!find(key)) return unknownForm(key);
    return store(key, *o.value(), false);
  }

  HttpResponse store(const std::string& key, const Poco::JSON::Object& o, bool create) {
    auto parsed = formFromJson(key, o, personas_);
    if (!parsed.ok()) return sdk::problem(parsed.error());
    auto form = std::make_shared<Form>(std::move(parsed.value()));
    std::lock_guard writing(writeMutex_);  // one admin change at a time
    if (const FormPtr existing = find(key)) {
      if (create)
        return sdk::problem({sdk::ErrorKind::kConflict, "there is already a form " + key, {}, {}});
      if (existing->from_config)
        return sdk::problem(
            {sdk::ErrorKind::kConflict,
             "form " + key + " is defined in the configuration file; change it there",
             {},
             {}});
    }
    const std::string doc = toJson(formToJson(*form));
    const std::string now = sdk::rfc3339(ctx_->clock().now());
    auto st = ctx_->storage().write([&](sdk::Tx& tx) -> sdk::Status {
      auto done = create
                      ? tx.exec(
                            "INSERT INTO p_webform_forms (form_key, doc, created_at, updated_at) "
                            "VALUES ($1, $2, $3, $3)",
                            {key, doc, now})
                      : tx.exec(
                            "UPDATE p_webform_forms SET doc = $2, updated_at = $3 "
                            "WHERE form_key = $1",
                            {key, doc, now});
      return done.ok() ? sdk::Status() : sdk::Status(done.error());
    });
    if (!st.ok()) return sdk::problem(st.error());
    {
      std::unique_lock lock(formsMutex_);
      forms_[key] = form;
    }
    return jsonAnswer(create ? 201 : 200, formToJson(*form));
  }

  HttpResponse deleteForm(const HttpRequest& r) {
    const std::string key = r.params.at("form");
    std::lock_guard writing(writeMutex_);
    const FormPtr existing = find(key);
    if (!existing) return unknownForm(key);
    if (existing->from_config)
      return sdk::problem({sdk::ErrorKind::kConflict,
                           "form " + key + " is defined in the configuration file; remove it there",
                           {},
                           {}});
    auto st = ctx_->storage().write([&](sdk::Tx& tx) -> sdk::Status {
      auto done = tx.exec("DELETE FROM p_webform_forms WHERE form_key = $1", {key});
      return done.ok() ? sdk::Status() : sdk::Status(done.error());
    });
    if (!st.ok()) return sdk::problem(st.error());
    {
      std::unique_lock lock(formsMutex_);
      forms_.erase(key);
    }
    return HttpResponse{204, "", "", {}};
  }

  sdk::Context* ctx_ = nullptr;
  mutable std::shared_mutex formsMutex_;
  std::map<std::string, FormPtr> forms_;
  std::vector<std::string> personas_;  // the daemon's buyer personas, which a form may feed
  std::mutex writeMutex_;
  std::string signingKey_;
  TokenBuckets limiter_;
};

}  // namespace

}  // namespace ciclo::plugins::webform

CICLO_PLUGIN(ciclo::plugins::webform::Webform, "webform", "1.0.0")
