"""SMS notifications through an outbox: stored first, sent later, retried, never lost.

A message is written by ``enqueue`` inside the same transaction as the decision it reports
(an approval, a rejection), so the decision and its SMS are committed together or not at
all. The dispatcher (``hall/dispatch.py``) sends what is due through a pluggable sender.
"""

from __future__ import annotations

import time
from typing import Final

import aiosqlite

TEMPLATES: Final[dict[str, str]] = {
    "verification_approved": "【技术产权交易所】您的实名认证已通过。",
    "verification_rejected": "【技术产权交易所】您的实名认证未通过，原因：{reason}。请修改后重新提交。",
    "registration_approved": "【技术产权交易所】您报名的拍品《{title}》已审核通过，竞买号 {number}，竞价开始时间 {start}。",
    "registration_rejected": "【技术产权交易所】您报名的拍品《{title}》未通过审核，原因：{reason}。",
    # issue 11: identities (AC-3) and shops (AC-4), decided through the review mechanism (hall/reviews)
    "identity_approved": "【技术产权交易所】您的身份申请已审核通过，可以申请开通店铺。",
    "identity_rejected": "【技术产权交易所】您的身份申请未通过，原因：{reason}。请修改后重新提交。",
    "shop_approved": "【技术产权交易所】您的店铺《{name}》已审核通过，店铺已开通。",
    "shop_rejected": "【技术产权交易所】您的店铺《{name}》开通申请未通过，原因：{reason}。请修改后重新提交。",
    # issue 11: listings (LS-7) and ownership changes (LS-4), decided through the review mechanism
    "listing_approved": "【技术产权交易所】您发布的商品《{title}》已审核通过，已上架。",
    "listing_rejected": "【技术产权交易所】您发布的商品《{title}》未通过审核，原因：{reason}。请在卖家中心修改后重新提交。",
    "ownership_approved": "【技术产权交易所】您的商品《{title}》权属状态变更申请已通过，现为{ownership}。",
    "ownership_rejected": "【技术产权交易所】您的商品《{title}》权属状态变更申请未通过，原因：{reason}。",
    # issue 12: deals (hall/deals.py), each step's SMS in the same transaction as the step
    "deal_notified": "【技术产权交易所】拍品《{title}》已成交，成交价 {price} 元，成交通知书编号 {notice}。请买卖双方于 {due} 前签署技术交易合同并在线上传（我的竞拍 > 交易记录）。",
    "deal_contract_reminder": "【技术产权交易所】拍品《{title}》的技术交易合同须于 {due} 前签署并在线上传，请尽快办理。",
    "deal_contract_refused": "【技术产权交易所】您为拍品《{title}》上传的合同未通过审核，原因：{reason}。请重新上传。",
    "deal_payment_refused": "【技术产权交易所】您为拍品《{title}》上传的付款凭证未通过审核，原因：{reason}。请重新上传。",
    "deal_payment_uploaded": "【技术产权交易所】买方已上传拍品《{title}》的付款凭证，请核实到账后在交易记录中确认收款。",
    "deal_payment_disputed": "【技术产权交易所】卖方对拍品《{title}》的付款凭证提出异议：{reason}。交易所将与您联系核实。",
    "deal_certified": "【技术产权交易所】拍品《{title}》已完成交割，交易凭证 {certificate} 已出具，可在交易记录中下载。",
    "deal_defaulted": "【技术产权交易所】拍品《{title}》的交易已被认定违约，原因：{reason}。如有疑问请联系交易所。",
    # a deal made while the working-day calendar did not know the due date's year (hall/deals.py)
    "deal_notified_undated": "【技术产权交易所】拍品《{title}》已成交，成交价 {price} 元，成交通知书编号 {notice}。合同签署截止日尚无法按工作日计算，确定后将另行通知。",
    "deal_contract_due_set": "【技术产权交易所】拍品《{title}》（成交通知书编号 {notice}）的合同签署截止日已确定：请买卖双方于 {due} 前签署技术交易合同并在线上传。",
    # SMS codes (hall/store/codes.py): the code is the only secret, the purpose is named so that
    # a code asked for by someone else is recognised for what it is
    "code_signup": "【技术产权交易所】您的注册验证码为 {code}，{minutes} 分钟内有效。如非本人操作，请忽略本短信。",
    "code_login": "【技术产权交易所】您的登录验证码为 {code}，{minutes} 分钟内有效。请勿告诉他人。",
    "code_reset": "【技术产权交易所】您正在重置密码，验证码为 {code}，{minutes} 分钟内有效。请勿告诉他人。",
    "signup_taken": "【技术产权交易所】该手机号已注册账户，无需重复注册。请直接登录；忘记密码可用短信验证码登录或重置密码。如非本人操作，请忽略本短信。",
    "no_account": "【技术产权交易所】该手机号尚未注册账户，请先注册。如非本人操作，请忽略本短信。",
    # issue 13, piece A: a demand's review (hall/demand_posting.py), to whoever submitted it
    "demand_approved": "【技术产权交易所】您提交的科研众包需求《{title}》已审核通过并发布，需求编号 {number}。",
    "demand_rejected": "【技术产权交易所】您提交的科研众包需求《{title}》未通过审核，原因：{reason}。请修改后重新提交。",
    # and piece A's inbox-only notices (``notice`` below) to the parties of an entrustment, and to
    # the enterprise of a demand its transfer organisation posted when staff decide it
    "crowd_a_notice_entrusted": "{enterprise} 委托贵机构代为发布和处理科研众包需求，请在“委托技术转移机构”中确认。",
    "crowd_a_notice_accepted": "{agency} 已接受您的委托，将代为发布和处理需求。",
    "crowd_a_notice_declined": "{agency} 谢绝了您的委托。",
    "crowd_a_notice_published": "受托机构为您发布的需求《{title}》已审核通过，编号 {number}。",
    "crowd_a_notice_rejected": "受托机构为您发布的需求《{title}》未通过审核，原因：{reason}。",
    # issue 13, piece B (hall/responses.py): only the adoption and the reward decisions go out as SMS;
    # the rest are inbox-only notices (hall.notify.notice). None names a hidden field (CR-4).
    "crowd_b_adopted": "【技术产权交易所】您为需求《{title}》（{number}）提交的解决方案已被采纳，需求方将与您联系。",
    "crowd_b_not_adopted": "【技术产权交易所】需求《{title}》（{number}）已采纳其他解决方案，感谢您的应答。",
    "crowd_b_released": "【技术产权交易所】需求《{title}》（{number}）的需求方撤销了对您方案的采纳，需求重新接受应答。",
    "crowd_b_response": "【技术产权交易所】您的需求《{title}》（{number}）收到新的应答，请在“提交给我的应答”中查看。",
    "crowd_b_message_to_side": "【技术产权交易所】您的需求《{title}》（{number}）收到新的咨询消息，请在“立即咨询”中查看。",
    "crowd_b_message_to_solver": "【技术产权交易所】需求《{title}》（{number}）的需求方回复了您的咨询。",
    "crowd_b_reward_approved": "【技术产权交易所】您为需求《{title}》提交的奖励申请已审核通过。",
    "crowd_b_reward_rejected": "【技术产权交易所】您为需求《{title}》提交的奖励申请未通过，原因：{reason}。请修改后重新提交。",
    # issue 13, piece C: a published demand pushed to a matched solver (hall/store/matching.py);
    # its public title and number only, never a field its side hid (CR-4)
    "demand_pushed": "【技术产权交易所】为您推荐科研众包需求《{title}》（编号 {number}），可登录后在“推荐给我”中查看并应答。",
    # issue 13, piece D: roadshows (hall/roadshows.py). Texts to solvers name the demand's title
    # (never a hideable field, CR-4) and what staff wrote of the roadshow.
    "roadshow_invited": "【技术产权交易所】您对需求《{demand}》的应答受邀参加路演《{title}》，时间：{when}（北京时间），地点：{place}。",
    "roadshow_won": "【技术产权交易所】恭喜！您对需求《{demand}》的应答在路演《{title}》中获评优胜。",
    "roadshow_not_won": "【技术产权交易所】需求《{demand}》的路演《{title}》已评出优胜者，您的应答未获评优胜，感谢参与。",
}


async def enqueue(tx: aiosqlite.Connection, *, user: int, template: str, **params: object) -> int:
    """Store an SMS to ``user`` in the caller's transaction; returns its outbox id."""
    async with tx.execute("SELECT phone FROM users WHERE id = ?", (user,)) as cur:
        row = await cur.fetchone()
    if row is None:
        raise KeyError(f"no user {user}")
    return await _insert(tx, user, row[0], template, TEMPLATES[template].format(**params))


async def enqueue_to_phone(tx: aiosqlite.Connection, *, phone: str, template: str, **params: object) -> int:
    """Store an SMS to a phone number, which may have no account yet (a sign-up code); the
    row names the account when there is one, so the in-app inbox gets it too."""
    async with tx.execute("SELECT id FROM users WHERE phone = ?", (phone,)) as cur:
        row = await cur.fetchone()
    return await _insert(tx, None if row is None else row[0], phone, template, TEMPLATES[template].format(**params))


async def _insert(tx: aiosqlite.Connection, user: int | None, phone: str, template: str, body: str) -> int:
    now = time.time_ns() // 1_000_000
    cursor = await tx.execute(
        "INSERT INTO outbox (user, phone, template, body, status, next_attempt_at, created_at)"
        " VALUES (?, ?, ?, ?, 'pending', ?, ?)",
        (user, phone, template, body, now, now),
    )
    assert cursor.lastrowid is not None
    return cursor.lastrowid


async def notice(tx: aiosqlite.Connection, *, user: int, template: str, now: int, **params: object) -> int:
    """An inbox-only notice to ``user`` in the caller's transaction (an ``inbox`` row whose
    ``outbox`` is NULL: read in the hall, never sent as an SMS); its inbox id."""
    cursor = await tx.execute("INSERT INTO inbox (user, outbox, body, created_at) VALUES (?, NULL, ?, ?)",
                              (user, TEMPLATES[template].format(**params), now))  # fmt: skip
    assert cursor.lastrowid is not None
    return cursor.lastrowid
