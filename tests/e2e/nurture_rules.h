#pragma once
// The scoring rules and nurture settings of the end-to-end tests: one welcome sequence for
// plant managers (config/personas.yaml), stopped at sales-ready; opening scores 20 and
// clicking 30 on top of 15 for the persona, so one email opened and clicked crosses 60.

namespace ciclo::testing {

inline const char* kScoring = R"(thresholds: {nurturing: 10, sales_ready: 60}
profile:
  - {name: persona_fit, field: persona, points: 15, values: [plant_manager]}
behaviour:
  - {name: opened, interaction: email_opened, points: 20}
  - {name: clicked, interaction: email_clicked, points: 30}
  - {name: bounced, interaction: email_bounced, points: -10}
  - {name: unsubscribed, interaction: unsubscribed, points: -50}
)";

inline const char* kNurture = R"(from: Ciclo Marketing <marketing@ciclo.test>
envelope_from: bounces@ciclo.test
public_url: https://ciclo.test/
unsubscribe_mailto: unsubscribe@ciclo.test
quiet_hours: {start: "00:00", end: "00:00"}
send_every: 1s
retry_for: 1d
website_tracking: {link_param: ciclo_t, per_lead_per_hour: 6}
sequences:
  welcome:
    enrol: {personas: [plant_manager]}
    stop: [sales_ready, qualified, disqualified, unsubscribed, replied, bounced]
    steps:
      guide:
        subject: "{{first_name}}, la guida per {{company}}"
        text: "Buongiorno {{first_name}}, ecco la guida: https://example.com/guida"
        html: '<html><body><p>Buongiorno {{first_name}} di {{company}}</p><a href="https://example.com/guida?a=1&amp;b=2">guida</a></body></html>'
      follow_up:
        delay: 2d
        subject: "Seguito"
        text: "Un caso di studio."
)";

}  // namespace ciclo::testing
