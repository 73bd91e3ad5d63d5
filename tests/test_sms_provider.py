"""Text messages through the provider adapter: Alibaba Cloud's signed SendSms request, checked against the
provider's documented example and by a local stand-in of its endpoint; the log backend masks the phone."""

import logging

import sqlalchemy as sa

from extensions import db
from models import Channel, NoticeKind, OutboundMessage, OutboxStatus
from services import inbox, messaging
from services.infra import sms
from services.infra.queue import run_queued
from services.infra.transaction import unit_of_work

# The provider's documentation signs this request with the secret "testSecret" and gets this signature.
DOCUMENTED = {
    "AccessKeyId": "testId", "Action": "SendSms", "Format": "XML", "OutId": "123", "PhoneNumbers": "15300000001",
    "RegionId": "cn-hangzhou", "SignName": "阿里云短信测试专用", "SignatureMethod": "HMAC-SHA1",
    "SignatureNonce": "45e25e9b-0a6f-4070-8c85-2956eda1b466", "SignatureVersion": "1.0",
    "TemplateCode": "SMS_71390007", "TemplateParam": '{"customer":"test"}', "Timestamp": "2017-07-12T02:42:19Z",
    "Version": "2017-05-25",
}


def test_the_request_is_signed_as_the_providers_documented_example():
    query = sms.signed_query(DOCUMENTED, "testSecret")
    assert query.startswith("Signature=zJDF%2BLrzhj%2FThnlvIToysFRq6t4%3D&AccessKeyId=testId&Action=SendSms&")
    assert "SignName=%E9%98%BF%E9%87%8C%E4%BA%91%E7%9F%AD%E4%BF%A1%E6%B5%8B%E8%AF%95%E4%B8%93%E7%94%A8" in query
    assert "TemplateParam=%7B%22customer%22%3A%22test%22%7D" in query


def _code_to(phone="13912345678", code="482913"):
    with unit_of_work():
        messaging.send_direct(Channel.SMS, phone, sms_template="code", sms_params={"code": code})


def test_a_code_reaches_the_provider_signed_with_the_template_and_its_parameters(sms_provider, app):
    _code_to()
    run_queued()
    assert sms_provider.rejected == []
    [request] = sms_provider.received
    assert request["PhoneNumbers"] == "13912345678"
    assert request["TemplateCode"] == app.config["SMS_TEMPLATES"]["code"]
    assert request["TemplateParam"] == {"code": "482913"}
    assert request["SignName"] == "继续教育基地平台"
    row = db.session.scalar(sa.select(OutboundMessage))
    assert row.status == OutboxStatus.SENT
    assert row.body == ""  # a one-time code is not kept once it has gone


def test_a_wrong_secret_is_refused_by_the_provider_and_the_message_fails(sms_provider, app):
    app.config.update(SMS_ACCESS_KEY_SECRET="not-the-secret")
    _code_to()
    run_queued()
    assert sms_provider.rejected == ["signature does not match"]
    row = db.session.scalar(sa.select(OutboundMessage))
    assert row.status == OutboxStatus.FAILED and "SignatureDoesNotMatch" in row.last_error
    assert row.attempts == 1  # a refusal is final: not retried


def test_a_provider_refusing_the_number_fails_at_once(sms_provider):
    sms_provider.answer = {"Code": "isv.MOBILE_NUMBER_ILLEGAL", "Message": "非法手机号"}
    _code_to()
    run_queued()
    row = db.session.scalar(sa.select(OutboundMessage))
    assert (row.status, row.attempts) == (OutboxStatus.FAILED, 1)
    assert row.last_error.startswith("isv.MOBILE_NUMBER_ILLEGAL")


def test_a_provider_down_is_retried_then_failed_and_nothing_sent_twice(sms_provider):
    sms_provider.status = 503
    _code_to()
    run_queued()
    row = db.session.scalar(sa.select(OutboundMessage))
    assert (row.status, row.attempts) == (OutboxStatus.FAILED, 4)
    assert sms_provider.received == []
    sms_provider.status = 200
    messaging.deliver([row.id], final=True)  # a late rerun of the job: the row is no longer queued
    assert sms_provider.received == []


def test_a_notice_goes_by_text_message_where_its_kind_does_by_default(sms_provider, make_user):
    learner = make_user(phone="13912345670")
    with unit_of_work():
        inbox.notify(learner.id, "您2026年度继续教育学时还差 12 学时，12月31日截止", "/me/", kind=NoticeKind.DEADLINE)
        inbox.notify(learner.id, "候补已递补", "/me/", kind=NoticeKind.WAITLIST)
    run_queued()
    [request] = sms_provider.received  # the waitlist kind goes by e-mail only, unless chosen
    assert request["TemplateParam"]["kind"] == "年度学时截止提醒"
    assert request["TemplateParam"]["summary"].startswith("您2026年度继续教育学时还差 12 学时")
    assert len(request["TemplateParam"]["summary"]) <= sms.PARAM_MAX


def test_the_log_backend_masks_the_phone(app, caplog):
    caplog.set_level(logging.INFO, logger="services.infra.sms")
    with app.test_request_context():
        assert sms.send("13912345678", "notice", {"kind": "x", "summary": "y"}) is None
    assert "139****5678" in caplog.text and "13912345678" not in caplog.text
