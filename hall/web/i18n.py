"""Interface text: Simplified Chinese first, English on request (cookie ``hall_lang``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from starlette.requests import HTTPConnection

LANGS: Final = ("zh", "en")
COOKIE: Final = "hall_lang"

MESSAGES: Final[dict[str, tuple[str, str]]] = {
    "site": ("技术产权交易拍卖大厅", "Technology Property-Rights Auction Hall"),
    "home": ("首页", "Home"),
    "signup": ("注册", "Sign up"),
    "login": ("登录", "Log in"),
    "logout": ("退出", "Log out"),
    "account": ("我的账户", "My account"),
    "inbox": ("站内消息", "Inbox"),
    "phone": ("手机号", "Mobile number"),
    "password": ("密码", "Password"),
    "name": ("姓名/名称", "Name"),
    "submit": ("提交", "Submit"),
    "lots": ("拍品", "Lots"),
    "state": ("状态", "State"),
    "roles": ("角色", "Roles"),
    "verification": ("实名认证", "Real-name verification"),
    "verified": ("已实名认证", "Verified"),
    "not_verified": ("未实名认证", "Not verified"),
    "personal": ("个人", "Personal"),
    "organisation": ("机构", "Organisation"),
    "org_name": ("机构名称", "Organisation name"),
    "org_kind": ("机构类型", "Organisation type"),
    "document": ("证明文件（营业执照/法人证书等，PDF/JPEG/PNG，≤10 MiB）",
                 "Certificate (business licence etc.; PDF/JPEG/PNG, ≤ 10 MiB)"),
    "state_publicity": ("公示中", "In publicity"),
    "state_live": ("竞价中", "Bidding"),
    "state_paused": ("已暂停", "Paused"),
    "state_closed": ("已结束", "Closed"),
    "state_withdrawn": ("已撤拍", "Withdrawn"),
    "fair_warning": ("即将落槌", "Fair warning"),
    "outcome_sold": ("成交", "Sold"),
    "outcome_unsold": ("流拍", "Unsold"),
    "register_for_lot": ("报名竞拍", "Register to bid"),
    "letter": ("《网络竞价承诺函》签字或盖章扫描件（PDF/JPEG/PNG，≤10 MiB）",
               "Signed or stamped online-bidding commitment letter (PDF/JPEG/PNG, ≤ 10 MiB)"),
    "deadline": ("报名截止", "Registration deadline"),
    "bidding_start": ("竞价开始", "Bidding starts"),
    "status": ("审核状态", "Review status"),
    "pending": ("待审核", "Pending"),
    "approved": ("已通过", "Approved"),
    "rejected": ("已驳回", "Rejected"),
    "reason": ("原因", "Reason"),
    "approve": ("通过", "Approve"),
    "reject": ("驳回", "Reject"),
    "review_verifications": ("实名认证审核", "Verification review"),
    "review_registrations": ("竞买报名审核", "Registration review"),
    "admin_roles": ("角色管理", "Roles"),
    "grant": ("授予", "Grant"),
    "revoke": ("撤销", "Revoke"),
    "bidder_number": ("竞买号", "Bidder number"),
    "open_file": ("查看文件", "Open file"),
    "forbidden": ("无权访问", "Forbidden"),
    "not_found": ("未找到", "Not found"),
    "empty": ("暂无", "Nothing yet"),
    "start_price": ("起拍价（元）", "Start price (yuan)"),
    "session": ("专场", "Session"),
    # reviews, registration, documents, roles (hall/web/reviews.py, hall/web/admin.py)
    "real_name": ("真实姓名", "Real name"),
    "handler_name": ("机构认证可填写经办人姓名，也可不填", "For an organisation: the contact person's name, optional"),
    "verification_kind": ("认证类型", "Verification type"),
    "org_kind_university": ("高校", "University"),
    "org_kind_institute": ("科研院所", "Research institute"),
    "org_kind_soe": ("国有企业", "State-owned enterprise"),
    "org_kind_enterprise": ("企业", "Enterprise"),
    "org_kind_transfer": ("技术转移机构", "Technology-transfer organisation"),
    "org_kind_other": ("其他", "Other"),
    "choose": ("请选择", "Choose"),
    "history": ("申请记录", "Applications"),
    "applicant": ("申请人", "Applicant"),
    "submitted_at": ("提交时间", "Submitted"),
    "decided_at": ("审核时间", "Decided"),
    "recent_decisions": ("最近审核", "Recent decisions"),
    "pending_queue": ("待审核", "Awaiting review"),
    "decision": ("审核", "Decision"),
    "reason_hint": ("驳回原因（驳回时必填，将短信通知申请人）", "Reason (required to reject; sent to the applicant by SMS)"),
    "verification_pending": ("您的实名认证申请正在审核中。", "Your verification is under review."),
    "verification_done": ("您的账户已通过实名认证。", "Your account is verified."),
    "go_verify": ("去实名认证", "Verify your real name"),
    "lot": ("拍品", "Lot"),
    "publicity_start": ("公示开始", "Publicity starts"),
    "beijing_time": ("北京时间", "Beijing time"),
    "registration": ("我的报名", "My registration"),
    "resubmit": ("重新提交", "Submit again"),
    "letter_short": ("竞价承诺函", "Commitment letter"),
    "find_account": ("按手机号查找账户", "Find an account by mobile number"),
    "find": ("查找", "Find"),
    "holders": ("角色持有人", "Role holders"),
    "role_seller": ("卖方", "Seller"),
    "role_auctioneer": ("拍卖师", "Auctioneer"),
    "role_staff": ("审核人员", "Staff"),
    "role_admin": ("管理员", "Administrator"),
    "done_grant": ("已授予。", "Granted."),
    "done_revoke": ("已撤销。", "Revoked."),
}


def translate(key: str, lang: str) -> str:
    pair = MESSAGES.get(key)
    if pair is None:
        return key
    return pair[1] if lang == "en" else pair[0]


def lang_of(conn: HTTPConnection) -> str:
    chosen = conn.cookies.get(COOKIE)
    return chosen if chosen in LANGS else "zh"


def translator(lang: str) -> Callable[[str], str]:
    return lambda key: translate(key, lang)
