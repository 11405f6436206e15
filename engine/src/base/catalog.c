/* The message catalog (engine/catalog.h): every text a subscriber can get.
 *
 * Texts are templates with "{key}" placeholders. Russian is the default;
 * English texts stay within the GSM 03.38 basic alphabet (plain ASCII, no
 * brackets or braces) so they can go as data_coding 0. Both use '-' rather
 * than a dash. Rules of thumb: say what happened, then what the subscriber
 * can do next; never mention a charge without its amount (R5, R6, R13b). */
#include "engine/catalog.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct msg_row {
	const char *name;
	const char *text[ENG_LANG__COUNT];
};

static const struct msg_row catalog[ENG_MSG__COUNT] = {
	[ENG_MSG_HELP] = {"help", {
		[ENG_LANG_RU] =
			"SMS-диалог: переписка с одним абонентом, {allowance} SMS в день бесплатно. "
			"Пригласить: отправьте номер друга на {short_code}. "
			"Ответ на приглашение: 1 - принять, 2 - отказаться. "
			"СТАТУС - ваши диалоги. СТОП - отключить бесплатно. "
			"Первая неделя бесплатно, далее ежедневная плата по тарифу вашего региона. "
			"Справка: {support_line}",
		[ENG_LANG_EN] =
			"SMS dialog: text one person, {allowance} SMS a day free. "
			"To invite, send your friend's number to {short_code}. "
			"To answer an invitation: 1 - accept, 2 - decline. "
			"STATUS - your dialogs. STOP - end it, free of charge. "
			"First week free, then a daily fee at your region's rate. "
			"Help: {support_line}",
	}},
	[ENG_MSG_INVITE_SENT] = {"invite_sent", {
		[ENG_LANG_RU] =
			"Приглашение в SMS-диалог отправлено на {peer}. Диалог начнётся, когда "
			"абонент ответит согласием. Приглашение действует {ttl_hours} ч. "
			"Отменить: СТОП {peer} на {short_code}.",
		[ENG_LANG_EN] =
			"Your SMS dialog invitation was sent to {peer}. The dialog starts once "
			"they accept. The invitation is valid for {ttl_hours} h. "
			"To cancel it, send STOP {peer} to {short_code}.",
	}},
	[ENG_MSG_INVITATION] = {"invitation", {
		[ENG_LANG_RU] =
			"{peer} приглашает вас в SMS-диалог: {allowance} SMS в день между вами "
			"бесплатно, плата {fee} руб. в день со дня после подключения. "
			"Ответьте 1 - принять, 2 - отказаться. SMS на {short_code} бесплатны.",
		[ENG_LANG_EN] =
			"{peer} invites you to an SMS dialog: {allowance} SMS a day free between "
			"you two, fee {fee} RUB a day from the day after you join. "
			"Reply 1 to accept, 2 to decline. SMS to {short_code} are free.",
	}},
	[ENG_MSG_INVITATION_TRIAL] = {"invitation_trial", {
		[ENG_LANG_RU] =
			"{peer} приглашает вас в SMS-диалог: {allowance} SMS в день между вами "
			"бесплатно. Подключение и первые {trial_days} дн. бесплатно, далее {fee} "
			"руб. в день. Ответьте 1 - принять, 2 - отказаться. SMS на {short_code} "
			"бесплатны.",
		[ENG_LANG_EN] =
			"{peer} invites you to an SMS dialog: {allowance} SMS a day free between "
			"you two. Joining and the first {trial_days} days are free, then {fee} RUB "
			"a day. Reply 1 to accept, 2 to decline. SMS to {short_code} are free.",
	}},
	[ENG_MSG_INVITE_EXPIRED] = {"invite_expired", {
		[ENG_LANG_RU] =
			"Абонент {peer} не ответил на приглашение в SMS-диалог, срок приглашения "
			"истёк. Ничего не списано. Пригласить снова: отправьте номер на {short_code}.",
		[ENG_LANG_EN] =
			"{peer} did not answer your SMS dialog invitation and it has expired. "
			"Nothing was charged. To invite again, send the number to {short_code}.",
	}},
	[ENG_MSG_ACTIVATED] = {"activated", {
		[ENG_LANG_RU] =
			"SMS-диалог с {peer} подключён: {allowance} SMS в день между вами бесплатно, "
			"плата {fee} руб. в день с {fee_from}. Отключить бесплатно: СТОП на "
			"{short_code}.",
		[ENG_LANG_EN] =
			"Your SMS dialog with {peer} is on: {allowance} SMS a day free between you "
			"two, fee {fee} RUB a day from {fee_from}. To end it free of charge, send "
			"STOP to {short_code}.",
	}},
	[ENG_MSG_ACTIVATED_TRIAL] = {"activated_trial", {
		[ENG_LANG_RU] =
			"SMS-диалог с {peer} подключён: {allowance} SMS в день между вами бесплатно. "
			"Абонентская плата: бесплатно до {trial_end}, с {fee_from} - {fee} руб. в "
			"день. Отключить бесплатно: СТОП на {short_code}.",
		[ENG_LANG_EN] =
			"Your SMS dialog with {peer} is on: {allowance} SMS a day free between you "
			"two. Daily fee: free until {trial_end}, then {fee} RUB a day from "
			"{fee_from}. To end it free of charge, send STOP to {short_code}.",
	}},
	[ENG_MSG_DECLINED_INVITER] = {"declined_inviter", {
		[ENG_LANG_RU] =
			"Абонент {peer} отклонил приглашение в SMS-диалог. Ничего не списано. "
			"Пригласить другого абонента: отправьте его номер на {short_code}.",
		[ENG_LANG_EN] =
			"{peer} declined your SMS dialog invitation. Nothing was charged. To invite "
			"someone else, send their number to {short_code}.",
	}},
	[ENG_MSG_DECLINED_INVITEE] = {"declined_invitee", {
		[ENG_LANG_RU] =
			"Вы отказались от SMS-диалога с {peer}. Ничего не списано. Если "
			"передумаете, отправьте номер {peer} на {short_code}.",
		[ENG_LANG_EN] =
			"You declined the SMS dialog with {peer}. Nothing was charged. If you "
			"change your mind, send {peer} to {short_code}.",
	}},
	[ENG_MSG_ENDED_SELF] = {"ended_self", {
		[ENG_LANG_RU] =
			"SMS-диалог с {peer} отключён, плата за него больше не списывается. "
			"Подключить снова: отправьте номер на {short_code}.",
		[ENG_LANG_EN] =
			"Your SMS dialog with {peer} has ended; no more fees will be charged for it. "
			"To start again, send the number to {short_code}.",
	}},
	[ENG_MSG_ENDED_PEER] = {"ended_peer", {
		[ENG_LANG_RU] =
			"Абонент {peer} отключил SMS-диалог с вами, плата за него больше не "
			"списывается. Пригласить снова: отправьте номер на {short_code}.",
		[ENG_LANG_EN] =
			"{peer} ended the SMS dialog with you; no more fees will be charged for it. "
			"To invite them again, send the number to {short_code}.",
	}},
	[ENG_MSG_WITHDRAWN_SELF] = {"withdrawn_self", {
		[ENG_LANG_RU] =
			"Ваше приглашение в SMS-диалог для {peer} отменено. Ничего не списано. "
			"Пригласить снова: отправьте номер на {short_code}.",
		[ENG_LANG_EN] =
			"Your SMS dialog invitation to {peer} was cancelled. Nothing was charged. "
			"To invite again, send the number to {short_code}.",
	}},
	[ENG_MSG_WITHDRAWN_INVITEE] = {"withdrawn_invitee", {
		[ENG_LANG_RU] =
			"Абонент {peer} отменил приглашение в SMS-диалог, отвечать на него не "
			"нужно. Ничего не списано. Пригласить этого абонента: отправьте номер на "
			"{short_code}.",
		[ENG_LANG_EN] =
			"{peer} cancelled the SMS dialog invitation; there is no need to answer it. "
			"Nothing was charged. To invite them yourself, send the number to "
			"{short_code}.",
	}},
	[ENG_MSG_ENDED_BLOCKED] = {"ended_blocked", {
		[ENG_LANG_RU] =
			"SMS-диалог с {peer} отключён: номер абонента заблокирован. Плата за "
			"диалог больше не списывается. Справка: {support_line}.",
		[ENG_LANG_EN] =
			"Your SMS dialog with {peer} has ended because that number is blocked. "
			"No more fees will be charged for it. Help: {support_line}.",
	}},
	[ENG_MSG_ERR_NOT_SUBSCRIBER] = {"err_not_subscriber", {
		[ENG_LANG_RU] =
			"Услуга SMS-диалог доступна только абонентам нашей сети. Справка: "
			"{support_line}.",
		[ENG_LANG_EN] =
			"SMS dialog is available to subscribers of our network only. Help: "
			"{support_line}.",
	}},
	[ENG_MSG_ERR_SENDER_BLOCKED] = {"err_sender_blocked", {
		[ENG_LANG_RU] =
			"Ваш номер сейчас не обслуживается, поэтому SMS-диалог недоступен. "
			"Справка: {support_line}.",
		[ENG_LANG_EN] =
			"Your number is not active now, so SMS dialog is not available. Help: "
			"{support_line}.",
	}},
	[ENG_MSG_ERR_BAD_NUMBER] = {"err_bad_number", {
		[ENG_LANG_RU] =
			"Не удалось распознать номер \"{text}\". Номер пишут так: 89161234567 "
			"или +79161234567 (например, чтобы пригласить: отправьте номер на {short_code}).",
		[ENG_LANG_EN] =
			"\"{text}\" is not a valid number. Write it as 89161234567 or +79161234567 "
			"(e.g. to invite someone, send their number to {short_code}).",
	}},
	[ENG_MSG_ERR_SELF] = {"err_self", {
		[ENG_LANG_RU] =
			"Нельзя пригласить в SMS-диалог свой собственный номер. Отправьте на "
			"{short_code} номер абонента, с которым хотите переписываться.",
		[ENG_LANG_EN] =
			"You cannot invite your own number. Send the number of the person you want "
			"to text to {short_code}.",
	}},
	[ENG_MSG_ERR_PEER_UNKNOWN] = {"err_peer_unknown", {
		[ENG_LANG_RU] =
			"Номер {peer} не обслуживается в нашей сети, пригласить его в SMS-диалог "
			"нельзя. Пригласить можно только абонента нашей сети.",
		[ENG_LANG_EN] =
			"{peer} is not on our network, so it cannot join an SMS dialog. You can "
			"invite subscribers of our network only.",
	}},
	[ENG_MSG_ERR_PEER_BLOCKED] = {"err_peer_blocked", {
		[ENG_LANG_RU] =
			"Номер {peer} сейчас не обслуживается, пригласить его в SMS-диалог нельзя. "
			"Попробуйте позже.",
		[ENG_LANG_EN] =
			"{peer} is not active now, so it cannot be invited to an SMS dialog. "
			"Please try again later.",
	}},
	[ENG_MSG_ERR_DIALOG_EXISTS] = {"err_dialog_exists", {
		[ENG_LANG_RU] =
			"SMS-диалог с {peer} у вас уже есть. Ваши диалоги: СТАТУС на {short_code}.",
		[ENG_LANG_EN] =
			"You already have an SMS dialog with {peer}. For your dialogs, send STATUS "
			"to {short_code}.",
	}},
	[ENG_MSG_ERR_INVITE_EXISTS] = {"err_invite_exists", {
		[ENG_LANG_RU] =
			"Вы уже пригласили {peer}, приглашение ждёт ответа. Отменить его: СТОП "
			"{peer} на {short_code}.",
		[ENG_LANG_EN] =
			"You have already invited {peer}; the invitation awaits an answer. To "
			"cancel it, send STOP {peer} to {short_code}.",
	}},
	[ENG_MSG_ERR_LIMIT_SELF] = {"err_limit_self", {
		[ENG_LANG_RU] =
			"У вас уже максимум SMS-диалогов ({limit}). Чтобы пригласить нового "
			"абонента, сначала отключите диалог: СТОП и номер абонента на {short_code}.",
		[ENG_LANG_EN] =
			"You already have the maximum of {limit} SMS dialogs. To invite someone "
			"new, end one first: send STOP and the number to {short_code}.",
	}},
	[ENG_MSG_ERR_LIMIT_PEER] = {"err_limit_peer", {
		[ENG_LANG_RU] =
			"У абонента {peer} уже максимум SMS-диалогов, пригласить его сейчас "
			"нельзя. Попробуйте позже.",
		[ENG_LANG_EN] =
			"{peer} already has the maximum number of SMS dialogs and cannot be "
			"invited now. Please try again later.",
	}},
	[ENG_MSG_ERR_PENDING_LIMIT] = {"err_pending_limit", {
		[ENG_LANG_RU] =
			"У вас уже максимум приглашений без ответа ({limit}). Дождитесь ответа или "
			"отмените приглашение: СТОП и номер абонента на {short_code}.",
		[ENG_LANG_EN] =
			"You already have the maximum of {limit} invitations awaiting an answer. "
			"Wait for an answer or cancel one: send STOP and the number to "
			"{short_code}.",
	}},
	[ENG_MSG_ERR_DAILY_LIMIT] = {"err_daily_limit", {
		[ENG_LANG_RU] =
			"Сегодня вы уже отправили максимум приглашений ({limit}). Попробуйте "
			"завтра.",
		[ENG_LANG_EN] =
			"You have sent the maximum of {limit} invitations for today. Please try "
			"again tomorrow.",
	}},
	[ENG_MSG_ERR_COOLDOWN] = {"err_cooldown", {
		[ENG_LANG_RU] =
			"Абонент {peer} недавно отклонил ваше приглашение. Пригласить его снова "
			"можно с {date}.",
		[ENG_LANG_EN] =
			"{peer} recently declined your invitation. You can invite them again from "
			"{date}.",
	}},
	[ENG_MSG_NOTHING_PENDING] = {"nothing_pending", {
		[ENG_LANG_RU] =
			"У вас нет приглашений в SMS-диалог, ожидающих ответа. Чтобы пригласить "
			"абонента, отправьте его номер на {short_code}.",
		[ENG_LANG_EN] =
			"You have no SMS dialog invitation to answer. To invite someone, send their "
			"number to {short_code}.",
	}},
	[ENG_MSG_NO_INVITE_FROM] = {"no_invite_from", {
		[ENG_LANG_RU] =
			"Абонент {peer} не приглашал вас в SMS-диалог. Ваши приглашения и "
			"диалоги: СТАТУС на {short_code}.",
		[ENG_LANG_EN] =
			"{peer} has not invited you to an SMS dialog. For your invitations and "
			"dialogs, send STATUS to {short_code}.",
	}},
	[ENG_MSG_ACCEPT_LIMIT_SELF] = {"accept_limit_self", {
		[ENG_LANG_RU] =
			"Нельзя принять приглашение от {peer}: у вас уже максимум SMS-диалогов "
			"({limit}). Отключите диалог (СТОП и номер) и ответьте 1 {peer}, пока "
			"приглашение действует.",
		[ENG_LANG_EN] =
			"You cannot accept the invitation from {peer}: you already have the maximum "
			"of {limit} SMS dialogs. End one (STOP and the number), then reply 1 {peer} "
			"while the invitation is valid.",
	}},
	[ENG_MSG_ACCEPT_LIMIT_PEER] = {"accept_limit_peer", {
		[ENG_LANG_RU] =
			"Нельзя принять приглашение от {peer}: у этого абонента уже максимум "
			"SMS-диалогов. Приглашение пока действует, ответьте 1 {peer} позже.",
		[ENG_LANG_EN] =
			"You cannot accept the invitation from {peer}: they already have the "
			"maximum number of SMS dialogs. The invitation is still valid; reply "
			"1 {peer} later.",
	}},
	[ENG_MSG_STOP_NOTHING] = {"stop_nothing", {
		[ENG_LANG_RU] =
			"У вас нет SMS-диалогов и отправленных приглашений, отключать нечего. "
			"Плата за услугу не списывается. Отклонить полученное приглашение: "
			"ответьте 2.",
		[ENG_LANG_EN] =
			"You have no SMS dialogs or sent invitations, so there is nothing to end. "
			"No fee is charged for the service. To decline an invitation you got, "
			"reply 2.",
	}},
	[ENG_MSG_STOP_NOTHING_WITH] = {"stop_nothing_with", {
		[ENG_LANG_RU] =
			"У вас нет SMS-диалога или отправленного приглашения с {peer}, отключать "
			"нечего. Ваши диалоги: СТАТУС на {short_code}.",
		[ENG_LANG_EN] =
			"You have no SMS dialog or sent invitation with {peer}, so there is "
			"nothing to end. For your dialogs, send STATUS to {short_code}.",
	}},
	[ENG_MSG_TRIAL_REMINDER] = {"trial_reminder", {
		[ENG_LANG_RU] =
			"Сегодня последний бесплатный день SMS-диалога. С {fee_from} плата {fee} "
			"руб. в день. Не хотите платить - отправьте СТОП на {short_code}, это "
			"бесплатно.",
		[ENG_LANG_EN] =
			"Today is the last free day of your SMS dialog. From {fee_from} the fee is "
			"{fee} RUB a day. To avoid it, send STOP to {short_code}, free of charge.",
	}},
	[ENG_MSG_SUSPENDED] = {"suspended", {
		[ENG_LANG_RU] =
			"SMS-диалог с {peer} приостановлен: на счёте {payer} не хватило средств "
			"на плату {fee} руб. в день. Диалог возобновится после пополнения счёта.",
		[ENG_LANG_EN] =
			"Your SMS dialog with {peer} is suspended: {payer} had too little money for "
			"the {fee} RUB daily fee. It resumes once the account is topped up.",
	}},
	[ENG_MSG_RESUMED] = {"resumed", {
		[ENG_LANG_RU] =
			"SMS-диалог с {peer} снова работает, плата {fee} руб. в день. Отключить "
			"бесплатно: СТОП на {short_code}.",
		[ENG_LANG_EN] =
			"Your SMS dialog with {peer} is active again, fee {fee} RUB a day. To end it "
			"free of charge, send STOP to {short_code}.",
	}},
	[ENG_MSG_OPERATOR_ENDED] = {"operator_ended", {
		[ENG_LANG_RU] =
			"SMS-диалог с {peer} отключён по вашему обращению в службу поддержки. "
			"Стоимость услуги оператора {fee} руб.",
		[ENG_LANG_EN] =
			"Your SMS dialog with {peer} was ended at your request to support. The "
			"operator service costs {fee} RUB.",
	}},
	/* Composed by eng_render_status() from the fragments below. */
	[ENG_MSG_STATUS] = {"status", {NULL, NULL}},
};

/* Fragments of the STATUS reply. */
enum st_part {
	ST_NONE,        /* no dialogs at all */
	ST_HEADER,
	ST_ACTIVE,      /* {peer} {since} {used} {allowance} */
	ST_SUSPENDED,   /* {peer} {since} */
	ST_PENDING_IN,  /* {peer} */
	ST_PENDING_OUT, /* {peer} */
	ST_MORE,        /* {more} */
	ST_TRIAL,       /* {trial_end} */
	ST_FEE,         /* {fee} */
	ST_STOP,        /* {short_code} */
	ST__COUNT
};

static const char *const status_text[ST__COUNT][ENG_LANG__COUNT] = {
	[ST_NONE] = {
		"У вас нет SMS-диалогов и приглашений. Чтобы пригласить абонента, отправьте "
		"его номер на {short_code}.",
		"You have no SMS dialogs or invitations. To invite someone, send their number "
		"to {short_code}."},
	[ST_HEADER] = {"Ваши SMS-диалоги:", "Your SMS dialogs:"},
	[ST_ACTIVE] = {"{peer}: активен с {since}, сегодня {used} из {allowance} SMS",
		       "{peer}: active since {since}, {used} of {allowance} SMS used today"},
	[ST_SUSPENDED] = {"{peer}: приостановлен (не хватило средств)",
			  "{peer}: suspended (insufficient funds)"},
	[ST_PENDING_IN] = {"приглашение от {peer}, ответьте 1 или 2",
			   "invitation from {peer}, reply 1 or 2"},
	[ST_PENDING_OUT] = {"ждёт ответа {peer}", "awaiting answer from {peer}"},
	[ST_MORE] = {"и ещё {more}", "and {more} more"},
	[ST_TRIAL] = {"Бесплатный период до {trial_end}.", "Free period until {trial_end}."},
	[ST_FEE] = {"Плата {fee} руб. в день.", "Fee {fee} RUB a day."},
	[ST_STOP] = {"Отключить бесплатно: СТОП на {short_code}.",
		     "To end it free of charge, send STOP to {short_code}."},
};

/* The STATUS reply is cut to about this many bytes ("и ещё N"). */
#define STATUS_MAX_BYTES 600

/* Up to three key/value arrays searched in order. */
struct kvset {
	const struct eng_kv *kv[3];
	size_t n[3];
};

static const char *kv_find(const struct kvset *s, const char *key, size_t klen)
{
	for (int a = 0; a < 3; a++)
		for (size_t i = 0; i < s->n[a]; i++) {
			const struct eng_kv *p = &s->kv[a][i];
			if (p->key && p->value && strlen(p->key) == klen &&
			    memcmp(p->key, key, klen) == 0)
				return p->value;
		}
	return NULL;
}

static const char *kv_get(const struct kvset *s, const char *key)
{
	return kv_find(s, key, strlen(key));
}

/* Fill template `t` into out; the length, -ENOSPC or -EINVAL. */
static int render_tpl(const char *t, const struct kvset *s, char *out, size_t outsz)
{
	if (!t || outsz == 0)
		return -EINVAL;
	size_t o = 0;
	while (*t) {
		const char *val;
		size_t vlen, skip = 1;
		if (*t == '{') {
			const char *end = strchr(t, '}');
			if (!end)
				return -EINVAL;
			size_t klen = (size_t)(end - t - 1);
			val = kv_find(s, t + 1, klen);
			if (!val)
				return -EINVAL;
			vlen = strlen(val);
			skip = klen + 2;
		} else {
			val = t;
			vlen = 1;
		}
		if (o + vlen + 1 > outsz)
			return -ENOSPC;
		memcpy(out + o, val, vlen);
		o += vlen;
		t += skip;
	}
	out[o] = '\0';
	return (int)o;
}

const char *eng_msg_name(enum eng_msg m)
{
	if ((unsigned)m >= ENG_MSG__COUNT)
		return "unknown";
	return catalog[m].name;
}

int eng_msg_parse(const char *name)
{
	if (!name)
		return -1;
	for (int m = 0; m < ENG_MSG__COUNT; m++)
		if (strcmp(catalog[m].name, name) == 0)
			return m;
	return -1;
}

int eng_lang_parse(const char *s)
{
	if (!s)
		return -1;
	if (strcmp(s, "ru") == 0)
		return ENG_LANG_RU;
	if (strcmp(s, "en") == 0)
		return ENG_LANG_EN;
	return -1;
}

int eng_msg_render(enum eng_lang lang, enum eng_msg m, const struct eng_kv *kv, size_t n,
		   char *out, size_t outsz)
{
	return eng_msg_render_kv(lang, m, kv, n, NULL, 0, out, outsz);
}

int eng_msg_render_kv(enum eng_lang lang, enum eng_msg m, const struct eng_kv *kv, size_t n,
		      const struct eng_kv *common, size_t ncommon, char *out, size_t outsz)
{
	if ((unsigned)m >= ENG_MSG__COUNT || (unsigned)lang >= ENG_LANG__COUNT || outsz == 0 ||
	    !out)
		return -EINVAL;
	if (m == ENG_MSG_STATUS)
		return eng_render_status(lang, kv, n, common, ncommon, out, outsz);
	struct kvset s = {{kv, common, NULL}, {kv ? n : 0, common ? ncommon : 0, 0}};
	return render_tpl(catalog[m].text[lang], &s, out, outsz);
}

/* "peer3" etc. */
static const char *indexed(const struct kvset *s, const char *base, size_t i)
{
	char key[32];
	snprintf(key, sizeof key, "%s%zu", base, i);
	return kv_get(s, key);
}

static int status_part(const char *state)
{
	if (!state)
		return -EINVAL;
	if (strcmp(state, "active") == 0)
		return ST_ACTIVE;
	if (strcmp(state, "suspended") == 0)
		return ST_SUSPENDED;
	if (strcmp(state, "pending_in") == 0)
		return ST_PENDING_IN;
	if (strcmp(state, "pending_out") == 0)
		return ST_PENDING_OUT;
	return -EINVAL;
}

/* Append "\n"-separated fragment `part` at out+*pos; the length added. */
static int put_part(enum eng_lang lang, int part, const struct kvset *s, int newline, char *out,
		    size_t outsz, size_t *pos)
{
	size_t p = *pos;
	if (newline) {
		if (p + 2 > outsz)
			return -ENOSPC;
		out[p++] = '\n';
	}
	int r = render_tpl(status_text[part][lang], s, out + p, outsz - p);
	if (r < 0)
		return r;
	p += (size_t)r;
	int added = (int)(p - *pos);
	*pos = p;
	return added;
}

int eng_render_status(enum eng_lang lang, const struct eng_kv *kv, size_t n,
		      const struct eng_kv *common, size_t ncommon, char *out, size_t outsz)
{
	if ((unsigned)lang >= ENG_LANG__COUNT || !out || outsz == 0)
		return -EINVAL;
	struct kvset s = {{kv, common, NULL}, {kv ? n : 0, common ? ncommon : 0, 0}};
	const char *ns = kv_get(&s, "n");
	if (!ns || !*ns || strlen(ns) > 4 || strspn(ns, "0123456789") != strlen(ns))
		return -EINVAL;
	size_t count = (size_t)strtoul(ns, NULL, 10);
	if (count == 0)
		return render_tpl(status_text[ST_NONE][lang], &s, out, outsz);

	/* First pass: every state must be known; is a fee being paid? */
	int paid = 0;
	for (size_t i = 0; i < count; i++) {
		int part = status_part(indexed(&s, "state", i));
		if (part < 0)
			return part;
		if (part == ST_ACTIVE || part == ST_SUSPENDED)
			paid = 1;
	}

	/* The closing lines, rendered first so the dialog lines can be cut to fit. */
	char tail[512];
	size_t tlen = 0;
	const char *trial_end = kv_get(&s, "trial_end");
	int r;
	if (trial_end && *trial_end &&
	    (r = put_part(lang, ST_TRIAL, &s, 1, tail, sizeof tail, &tlen)) < 0)
		return r;
	if (paid && ((r = put_part(lang, ST_FEE, &s, 1, tail, sizeof tail, &tlen)) < 0 ||
		     (r = put_part(lang, ST_STOP, &s, 1, tail, sizeof tail, &tlen)) < 0))
		return r;

	size_t pos = 0;
	if ((r = put_part(lang, ST_HEADER, &s, 0, out, outsz, &pos)) < 0)
		return r;
	for (size_t i = 0; i < count; i++) {
		struct eng_kv line[] = {{"peer", indexed(&s, "peer", i)},
					{"since", indexed(&s, "since", i)},
					{"used", indexed(&s, "used", i)}};
		struct kvset ls = {{line, kv, common}, {3, s.n[0], s.n[1]}};
		size_t before = pos;
		r = put_part(lang, status_part(indexed(&s, "state", i)), &ls, 1, out, outsz, &pos);
		if (r < 0)
			return r;
		/* Room for this line, the tail, and "and N more" if lines remain? */
		size_t reserve = 0;
		char more[24], mbuf[64];
		if (i + 1 < count) {
			snprintf(more, sizeof more, "%zu", count - i - 1);
			struct eng_kv mkv[] = {{"more", more}};
			struct kvset ms = {{mkv, NULL, NULL}, {1, 0, 0}};
			int ml = render_tpl(status_text[ST_MORE][lang], &ms, mbuf, sizeof mbuf);
			if (ml < 0)
				return ml;
			reserve = (size_t)ml + 1;
		}
		if (i > 0 && pos + reserve + tlen > STATUS_MAX_BYTES) {
			pos = before;
			snprintf(more, sizeof more, "%zu", count - i);
			struct eng_kv mkv[] = {{"more", more}};
			struct kvset ms = {{mkv, NULL, NULL}, {1, 0, 0}};
			if ((r = put_part(lang, ST_MORE, &ms, 1, out, outsz, &pos)) < 0)
				return r;
			break;
		}
	}
	if (pos + tlen + 1 > outsz)
		return -ENOSPC;
	memcpy(out + pos, tail, tlen);
	pos += tlen;
	out[pos] = '\0';
	return (int)pos;
}

char *eng_format_rub(long long kopecks, enum eng_lang lang, char *out)
{
	const char *sign = kopecks < 0 ? "-" : "";
	unsigned long long a = kopecks < 0 ? 0ULL - (unsigned long long)kopecks
					   : (unsigned long long)kopecks;
	if (a % 100 == 0)
		snprintf(out, 32, "%s%llu", sign, a / 100);
	else
		snprintf(out, 32, "%s%llu%c%02llu", sign, a / 100, lang == ENG_LANG_RU ? ',' : '.',
			 a % 100);
	return out;
}
