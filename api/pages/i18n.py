"""The console's words in both languages (zh-CN first: the school's staff and students read it;
English for the rest). Templates call t("key", name=value); a missing key fails loudly in tests."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import Request

LOCALES = ("zh-CN", "en")
LANG_COOKIE = "aftercare_lang"

# key → (zh-CN, en)
MESSAGES: dict[str, tuple[str, str]] = {
    "app.name": ("网校售后", "Aftercare"),
    "nav.home": ("首页", "Home"),
    "nav.orders": ("我的订单", "My orders"),
    "nav.refunds": ("我的退款", "My refunds"),
    "nav.complaints": ("我的反馈", "My complaints"),
    "nav.inbox": ("站内信", "Inbox"),
    "nav.review": ("退款审核", "Refund review"),
    "nav.logout": ("退出", "Sign out"),
    "nav.language": ("English", "中文"),
    "login.title": ("登录", "Sign in"),
    "login.email": ("邮箱", "Email"),
    "login.password": ("密码", "Password"),
    "login.submit": ("登录", "Sign in"),
    "login.failed": ("邮箱或密码不正确", "Wrong email or password"),
    "common.submit": ("提交", "Submit"),
    "common.back": ("返回", "Back"),
    "common.none": ("暂无", "Nothing yet"),
    "common.status": ("状态", "Status"),
    "common.timeline": ("处理记录", "Timeline"),
    "common.notices": ("已发送的通知", "Notices sent"),
    "common.amount": ("金额", "Amount"),
    "common.due": ("时限", "Due"),
    "common.overdue": ("已超时", "overdue"),
    "common.left": ("剩余", "left"),
    "common.unavailable": ("服务暂时不可用，请稍后再试。", "The service is unavailable; please try again."),
    "orders.title": ("我的订单", "My orders"),
    "orders.course": ("课程", "Course"),
    "orders.paid": ("实付", "Paid"),
    "orders.paid_at": ("支付时间", "Paid at"),
    "orders.refund": ("申请退款", "Ask for a refund"),
    "orders.complain": ("反馈问题", "Report a problem"),
    "refund.new.title": ("申请退款：{course}", "Refund: {course}"),
    "refund.quote": ("按当前退款政策测算", "What the refund policy gives now"),
    "refund.eligible": ("可以退款", "Eligible"),
    "refund.needs_review": ("需人工审核", "Needs a review"),
    "refund.ineligible": ("不符合退款条件", "Not eligible"),
    "refund.fee": ("手续费", "Fee"),
    "refund.you_get": ("预计退回", "You get back"),
    "refund.window_ends": ("退款期限至", "Refund window ends"),
    "refund.manager_call": (
        "金额较大，客户经理会先电话确认",
        "A large amount: an account manager will call you first",
    ),
    "refund.reason": ("退款原因", "Why you want a refund"),
    "refund.amount_yuan": ("部分退款金额（元，可不填）", "Part of it only (yuan, optional)"),
    "refund.submit": ("提交退款申请", "Ask for the refund"),
    "refund.title": ("退款 {refund_id}", "Refund {refund_id}"),
    "refund.requested_at": ("申请时间", "Requested"),
    "refund.decision_reason": ("审核意见", "Reviewer's reason"),
    "refunds.title": ("我的退款", "My refunds"),
    "complaint.new.title": ("反馈问题", "Report a problem"),
    "complaint.promise": ("我们承诺的响应时间", "How fast we answer"),
    "complaint.first_response": ("首次响应", "First response"),
    "complaint.resolution": ("解决", "Resolution"),
    "complaint.text": ("请描述您遇到的问题", "What went wrong"),
    "complaint.order": ("相关订单（可不选）", "Which order (optional)"),
    "complaint.no_order": ("不涉及订单", "No particular order"),
    "complaint.submit": ("提交反馈", "Send"),
    "complaint.title": ("反馈 {complaint_id}", "Complaint {complaint_id}"),
    "complaint.stage": ("进度", "Stage"),
    "complaint.add": ("补充说明", "Add to it"),
    "complaint.survey": ("问题解决了吗？", "Is it solved?"),
    "complaint.satisfied": ("已解决，满意", "Yes, solved"),
    "complaint.unsatisfied": ("没有解决", "No, not solved"),
    "complaint.comment": ("留言（可不填）", "Comment (optional)"),
    "complaints.title": ("我的反馈", "My complaints"),
    "survey.thanks": ("谢谢您的回答。", "Thank you for your answer."),
    "inbox.title": ("站内信", "Inbox"),
    "inbox.unread": ("{count} 条未读", "{count} unread"),
    "review.title": ("退款审核", "Refund review"),
    "review.student": ("学员", "Student"),
    "review.requested": ("申请", "Requested"),
    "review.due": ("审核时限", "Review due"),
    "review.order": ("订单", "Order"),
    "review.policy": ("适用的退款政策（第 {version} 版）", "Refund policy applied (version {version})"),
    "review.history": ("学员的历史记录", "The student's history"),
    "review.decision": ("审核决定", "Decision"),
    "review.approve": ("同意退款", "Approve"),
    "review.reject": ("拒绝退款", "Reject"),
    "review.reason_preset": ("常用理由", "Common reason"),
    "review.reason_text": ("补充说明", "In your words"),
    "review.decide": ("提交决定", "Decide"),
    "review.empty": ("没有待审核的退款", "Nothing waits for review"),
    "nav.admin_templates": ("通知模板", "Notice templates"),
    "nav.admin_sla": ("响应时限", "Response times"),
    "nav.admin_policies": ("退款政策", "Refund policies"),
    "admin.templates.title": ("通知模板", "Notice templates"),
    "admin.template.version": ("版本", "Version"),
    "admin.template.default": ("出厂默认", "shipped default"),
    "admin.template.source": ("模板内容", "Template"),
    "admin.template.note": ("修改说明", "What changed"),
    "admin.template.preview": ("预览", "Preview"),
    "admin.template.save": ("保存为新版本", "Save as a new version"),
    "admin.template.revert": ("恢复出厂默认", "Back to the default"),
    "admin.template.saved": ("已保存：之后发出的通知将使用新版本。", "Saved: notices from now on use it."),
    "admin.template.history": ("版本记录", "Version history"),
    "admin.template.preview_title": ("预览（示例数据）", "Preview (sample data)"),
    "admin.sla.title": ("反馈响应时限", "Complaint response times"),
    "admin.sla.category": ("类型", "Category"),
    "admin.sla.first_response": ("首次响应（分钟）", "First response (minutes)"),
    "admin.sla.resolution": ("解决（分钟）", "Resolution (minutes)"),
    "admin.sla.department": ("负责部门", "Department"),
    "admin.sla.business_hours": ("只计工作时间", "Working hours only"),
    "admin.policies.title": ("退款政策", "Refund policies"),
    "admin.policies.publish": ("发布为新版本", "Publish as a new version"),
    "admin.save": ("保存", "Save"),
    "nav.admin_users": ("员工账号", "Staff"),
    "nav.admin_reasons": ("审核理由", "Decision reasons"),
    "nav.admin_quotas": ("补偿额度", "Compensation quotas"),
    "admin.quotas.title": ("一线补偿额度（每人每周期）", "Compensation quotas (per person, per period)"),
    "admin.quotas.period": ("周期", "Period"),
    "admin.quotas.coupon": ("优惠券额度（元）", "Coupons (yuan)"),
    "admin.quotas.resets": ("重置学习进度（次）", "Progress resets"),
    "admin.reasons.title": ("常用审核理由", "Common decision reasons"),
    "admin.reasons.add": ("添加理由", "Add a reason"),
    "nav.admin_routing": ("审核分派", "Review routing"),
    "admin.routing.title": ("退款审核分派", "Refund review routing"),
    "admin.routing.groups": ("审核组", "Reviewer groups"),
    "admin.routing.rules": (
        "分派规则（按优先级，第一条匹配的规则决定审核组；JSON）",
        "Rules (by priority; the first that matches names the group; JSON)",
    ),
    "admin.users.title": ("员工账号", "Staff accounts"),
    "admin.users.new": ("新建账号", "New account"),
    "admin.users.name": ("姓名", "Name"),
    "admin.users.role": ("角色", "Role"),
    "admin.users.active": ("启用", "Active"),
    "admin.users.departments": ("负责的反馈队列", "Complaint queues"),
    "admin.users.first_password": (
        "初始密码（至少 10 位，交给本人）",
        "First password (10+ characters, hand it over)",
    ),
}


def locale_for(request: Request, preferred: str | None = None) -> str:
    """The language asked for (?lang= or the cookie it sets), else the user's, else zh-CN."""
    for asked in (request.query_params.get("lang"), request.cookies.get(LANG_COOKIE), preferred):
        if asked in LOCALES:
            return asked
    return LOCALES[0]


def translator(locale: str) -> Callable[..., str]:
    index = LOCALES.index(locale)

    def t(key: str, **values: object) -> str:
        text = MESSAGES[key][index]
        return text.format(**values) if values else text

    return t
