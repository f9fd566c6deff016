// Reading mail that comes back: replies, autoresponders, delivery status notifications in
// the shapes Postfix and Exchange send them, feedback-report complaints, and what is not a
// message at all.

#include "inbound.h"

#include <gtest/gtest.h>

namespace ciclo::plugins::nurture {
namespace {

InboundMail read(const std::string& raw) {
  std::string error;
  auto m = readInbound(raw, error);
  EXPECT_TRUE(m) << error;
  return m.value_or(InboundMail{});
}

TEST(Inbound, AReplyNamesTheEmailsItAnswersNewestFirst) {
  const auto m = read(
      "Return-Path: <anna@rossi.example>\r\n"
      "From: \"Bianchi, Anna\" <Anna@Rossi.example>\r\n"
      "To: Ciclo Marketing <marketing@ciclo.test>\r\n"
      "Subject: =?UTF-8?Q?Re:_la_guida_per_Rossi_&_Figli_=E2=9C=93?=\r\n"
      "Message-ID: <reply-1@mail.rossi.example>\r\n"
      "In-Reply-To: <eml_2@ciclo.test>\r\n"
      "References: <eml_1@ciclo.test>\r\n"
      " <eml_2@ciclo.test>\r\n"
      "Content-Type: text/plain; charset=utf-8\r\n"
      "\r\n"
      "Grazie, chiamatemi.\r\n");
  EXPECT_EQ(m.kind, InboundMail::Kind::kMessage);
  EXPECT_EQ(m.from, "anna@rossi.example");
  EXPECT_EQ(m.message_id, "<reply-1@mail.rossi.example>");
  EXPECT_EQ(m.subject, "Re: la guida per Rossi & Figli \u2713");
  EXPECT_EQ(m.references, (std::vector<std::string>{"<eml_2@ciclo.test>", "<eml_2@ciclo.test>",
                                                    "<eml_1@ciclo.test>"}));
  EXPECT_EQ(m.recipients, std::vector<std::string>{"marketing@ciclo.test"});
  EXPECT_FALSE(m.automatic);
}

TEST(Inbound, AnAutoresponderIsToldApart) {
  for (const char* mark : {"Auto-Submitted: auto-replied", "Auto-Submitted: auto-generated",
                           "X-Autoreply: yes", "Precedence: bulk"}) {
    const auto m = read(std::string("From: anna@rossi.example\nSubject: Out of office\n") + mark +
                        "\nIn-Reply-To: <eml_1@ciclo.test>\n\nBack on Monday.\n");
    EXPECT_TRUE(m.automatic) << mark;
  }
  EXPECT_FALSE(read("From: a@b.example\nAuto-Submitted: no\n\nhi\n").automatic);
}

TEST(Inbound, MailToTheUnsubscribeAddressKeepsItsSubject) {
  // An mbox "From " line first, as a pipe transport may write it; LF line ends.
  const auto m = read(
      "From anna@rossi.example Mon Nov 23 10:00:00 2026\n"
      "From: anna@rossi.example\n"
      "To: unsubscribe@ciclo.test\n"
      "Delivered-To: Unsubscribe@Ciclo.test\n"
      "Subject: unsubscribe eml_AbC-9_x\n\n");
  EXPECT_EQ(m.from, "anna@rossi.example");
  EXPECT_EQ(m.recipients,
            (std::vector<std::string>{"unsubscribe@ciclo.test", "unsubscribe@ciclo.test"}));
  EXPECT_EQ(m.subject, "unsubscribe eml_AbC-9_x");
}

const char* kPostfixBounce =
    "From: MAILER-DAEMON@mx.ciclo.test (Mail Delivery System)\r\n"
    "To: bounces@ciclo.test\r\n"
    "Subject: Undelivered Mail Returned to Sender\r\n"
    "Auto-Submitted: auto-replied\r\n"
    "Message-Id: <20261123100000.4A1B2@mx.ciclo.test>\r\n"
    "MIME-Version: 1.0\r\n"
    "Content-Type: multipart/report; report-type=delivery-status;\r\n"
    "\tboundary=\"4A1B2.1763892000/mx.ciclo.test\"\r\n"
    "\r\n"
    "This is a MIME-encapsulated message.\r\n"
    "\r\n"
    "--4A1B2.1763892000/mx.ciclo.test\r\n"
    "Content-Description: Notification\r\n"
    "Content-Type: text/plain; charset=us-ascii\r\n"
    "\r\n"
    "I'm sorry to have to inform you that your message could not\r\n"
    "be delivered to one or more recipients.\r\n"
    "\r\n"
    "--4A1B2.1763892000/mx.ciclo.test\r\n"
    "Content-Description: Delivery report\r\n"
    "Content-Type: message/delivery-status\r\n"
    "\r\n"
    "Reporting-MTA: dns; mx.ciclo.test\r\n"
    "X-Postfix-Queue-ID: 4A1B2\r\n"
    "Arrival-Date: Mon, 23 Nov 2026 10:00:00 +0100 (CET)\r\n"
    "\r\n"
    "Final-Recipient: rfc822; Nobody@Rossi.example\r\n"
    "Original-Recipient: rfc822;nobody@rossi.example\r\n"
    "Action: failed\r\n"
    "Status: 5.1.1\r\n"
    "Remote-MTA: dns; mx.rossi.example\r\n"
    "Diagnostic-Code: smtp; 550 5.1.1 <nobody@rossi.example>: Recipient address\r\n"
    "    rejected: User unknown in virtual mailbox table\r\n"
    "\r\n"
    "--4A1B2.1763892000/mx.ciclo.test\r\n"
    "Content-Description: Undelivered Message Headers\r\n"
    "Content-Type: text/rfc822-headers\r\n"
    "\r\n"
    "From: Ciclo Marketing <marketing@ciclo.test>\r\n"
    "To: nobody@rossi.example\r\n"
    "Subject: La guida\r\n"
    "Message-ID: <eml_Q1w2e3@ciclo.test>\r\n"
    "X-Ciclo-Email: eml_Q1w2e3\r\n"
    "\r\n"
    "--4A1B2.1763892000/mx.ciclo.test--\r\n";

TEST(Inbound, APostfixDeliveryReport) {
  const auto m = read(kPostfixBounce);
  EXPECT_EQ(m.kind, InboundMail::Kind::kDeliveryReport);
  EXPECT_TRUE(m.automatic);
  ASSERT_EQ(m.statuses.size(), 1u);
  EXPECT_EQ(m.statuses[0].recipient, "nobody@rossi.example");
  EXPECT_EQ(m.statuses[0].action, "failed");
  EXPECT_EQ(m.statuses[0].status, "5.1.1");
  EXPECT_EQ(m.statuses[0].code, 550);
  EXPECT_EQ(m.statuses[0].diagnostic,
            "550 5.1.1 <nobody@rossi.example>: Recipient address    rejected: User unknown in "
            "virtual mailbox table");
  EXPECT_EQ(m.original_message_id, "<eml_Q1w2e3@ciclo.test>");
  EXPECT_EQ(m.original_email_id, "eml_Q1w2e3");
}

TEST(Inbound, AReportInBase64WithSeveralRecipientsAndTheWholeMessageReturned) {
  // "Reporting-MTA: dns; ex.example\r\n\r\nFinal-Recipient: rfc822; a@x.example\r\n
  //  Action: delayed\r\nStatus: 4.4.7\r\n\r\nFinal-Recipient: rfc822; b@x.example\r\n
  //  Action: failed\r\nStatus: 5.2.2\r\nDiagnostic-Code: smtp; 552-5.2.2 Mailbox full\r\n"
  const std::string status =
      "UmVwb3J0aW5nLU1UQTogZG5zOyBleC5leGFtcGxlDQoNCkZpbmFsLVJlY2lwaWVudDogcmZjODIyOyBhQHgu\r\n"
      "ZXhhbXBsZQ0KQWN0aW9uOiBkZWxheWVkDQpTdGF0dXM6IDQuNC43DQoNCkZpbmFsLVJlY2lwaWVudDogcmZj\r\n"
      "ODIyOyBiQHguZXhhbXBsZQ0KQWN0aW9uOiBmYWlsZWQNClN0YXR1czogNS4yLjINCkRpYWdub3N0aWMtQ29k\r\n"
      "ZTogc210cDsgNTUyLTUuMi4yIE1haWxib3ggZnVsbA0K\r\n";
  const auto m = read(
      "From: postmaster@ex.example\r\n"
      "Content-Type: multipart/report; report-type=\"delivery-status\"; boundary=b1\r\n\r\n"
      "--b1\r\nContent-Type: text/plain\r\n\r\nDelivery has failed.\r\n"
      "--b1\r\nContent-Type: message/delivery-status\r\nContent-Transfer-Encoding: base64\r\n\r\n" +
      status +
      "--b1\r\nContent-Type: message/rfc822\r\n\r\n"
      "Message-ID: <eml_zz@ciclo.test>\r\nSubject: x\r\n\r\nThe body we sent.\r\n"
      "--b1--\r\n");
  ASSERT_EQ(m.statuses.size(), 2u);
  EXPECT_EQ(m.statuses[0].action, "delayed");
  EXPECT_EQ(m.statuses[0].status, "4.4.7");
  EXPECT_EQ(m.statuses[1].recipient, "b@x.example");
  EXPECT_EQ(m.statuses[1].action, "failed");
  EXPECT_EQ(m.statuses[1].status, "5.2.2");
  EXPECT_EQ(m.statuses[1].code, 552);
  EXPECT_EQ(m.original_message_id, "<eml_zz@ciclo.test>");
  EXPECT_EQ(m.original_email_id, "");  // no X-Ciclo-Email in what came back
}

TEST(Inbound, AFeedbackReportIsAComplaint) {
  const auto m = read(
      "From: feedback@isp.example\r\n"
      "Content-Type: multipart/report; report-type=feedback-report; boundary=\"part\"\r\n\r\n"
      "--part\r\nContent-Type: text/plain\r\n\r\nThis is an abuse report.\r\n"
      "--part\r\nContent-Type: message/feedback-report\r\n\r\n"
      "Feedback-Type: abuse\r\nUser-Agent: isp/1.0\r\nVersion: 1\r\n\r\n"
      "--part\r\nContent-Type: text/rfc822-headers\r\n\r\n"
      "Message-ID: <eml_c1@ciclo.test>\r\nX-Ciclo-Email: eml_c1\r\n\r\n"
      "--part--\r\n");
  EXPECT_EQ(m.kind, InboundMail::Kind::kComplaint);
  EXPECT_EQ(m.original_email_id, "eml_c1");
}

TEST(Inbound, ABrokenReportKeepsWhatCouldBeRead) {
  // The closing boundary never comes, and a part's headers are cut off.
  const auto m = read(
      "From: postmaster@ex.example\r\n"
      "Content-Type: multipart/report; report-type=delivery-status; boundary=b\r\n\r\n"
      "--b\r\nContent-Type: message/delivery-status\r\n\r\n"
      "Reporting-MTA: dns; ex\r\n\r\nFinal-Recipient: rfc822; x@y.example\r\nAction: failed\r\n"
      "Status: 5.1.1\r\n\r\n--b\r\nContent-Type: text/rfc822-head");
  EXPECT_EQ(m.kind, InboundMail::Kind::kDeliveryReport);
  ASSERT_EQ(m.statuses.size(), 1u);
  EXPECT_EQ(m.statuses[0].status, "5.1.1");
}

TEST(Inbound, WhatIsNotAMessageIsRefused) {
  for (const std::string& raw :
       {std::string(""), std::string("\r\n\r\nonly a body"),
        std::string("just some text without a colon\n"), std::string("\x00\x01\x02", 3)}) {
    std::string error;
    EXPECT_FALSE(readInbound(raw, error)) << raw;
    EXPECT_FALSE(error.empty());
  }
  std::string many;
  for (int i = 0; i < 6000; ++i) many += "X-A: b\n";
  std::string error;
  EXPECT_FALSE(readInbound(many + "\nbody", error));
  EXPECT_NE(error.find("header fields"), std::string::npos);
}

TEST(Inbound, HostileHeadersAreReadSafely) {
  // A subject that is not UTF-8, control characters, a header line of 200 KB, an
  // unterminated message identifier.
  const auto m =
      read("From: x@y.example\r\nSubject: caf\xe9\r\nX-Long: " + std::string(200000, 'a') +
           "\r\nIn-Reply-To: <eml_1@ciclo.test\r\nTo: \"a, b\" <A@B.example>, "
           "c@d.example (Carla), not an address\r\n\r\n");
  EXPECT_EQ(m.subject, "");
  EXPECT_TRUE(m.references.empty());
  EXPECT_EQ(m.recipients, (std::vector<std::string>{"a@b.example", "c@d.example"}));
  EXPECT_EQ(read("Subject: a\x01"
                 "b\r\n\r\n")
                .subject,
            "a b");
}

TEST(Inbound, MessageIdsAndAddressLists) {
  EXPECT_EQ(messageIds("<a@b> (comment) <c@d>"), (std::vector<std::string>{"<a@b>", "<c@d>"}));
  EXPECT_TRUE(messageIds("<no-at-sign> <with space@x>").empty());
  EXPECT_EQ(addresses("Anna <anna@x.example>, \"Rossi, B\" <b@y.example>"),
            (std::vector<std::string>{"anna@x.example", "b@y.example"}));
}

}  // namespace
}  // namespace ciclo::plugins::nurture
