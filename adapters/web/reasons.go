package web

import (
	"fmt"

	"github.com/lushan-dpf/ledger/domain"
)

// reasonsZH says in Chinese why a field was refused, for the refusals the
// desk's forms can meet: each key is the domain's format (FieldError's
// Format, a stable key), each value the same message with the same verbs
// for the same arguments. TestReasonsZH holds every key to a format the
// code still writes and every value to its key's arguments. A refusal
// without an entry is shown in the domain's English.
var reasonsZH = map[string]string{
	// Any field.
	"is required":                              "必须填写",
	"is missing":                               "必须填写",
	"is not valid UTF-8":                       "含有无法识别的字符",
	"has leading or trailing spaces":           "开头或结尾有空格",
	"is longer than %d characters":             "超过 %d 个字",
	"contains control characters":              "含有控制字符",
	"contains spaces":                          "含有空格",
	"%q is not a date in the form YYYY-MM-DD":  "%q 不是日期：请按 2025-03-01 的格式填写",
	"%q is not a month in the form YYYY-MM":    "%q 不是月份：请按 2025-03 的格式填写",
	"month %d is not 1..12":                    "月份 %d 不在 1 到 12 之间",
	"year %d is out of range":                  "年份 %d 超出范围",
	"%s is more than %d days after today (%s)": "%s 比今天（%[3]s）晚了 %[2]d 天以上",
	"%s is before the person's birth date":     "%s 早于此人的出生日期",

	// ID numbers.
	"has %d characters (spaces not counted); an ID number has 18 (a first-generation one 15): check for a missing or extra digit":         "有 %d 位（不计空格）；身份证号为 18 位（第一代为 15 位）：请检查是否少输或多输了数字",
	"character 18 is %q; the last character of an ID number is a digit or X":                                                              "第 18 位是 %q；身份证号的最后一位是数字或 X",
	"character %d is %q; an ID number holds only digits (and X as its 18th character)":                                                    "第 %d 位是 %q；身份证号只含数字（第 18 位可以是 X）",
	"area code starts with %q, which is not a province code":                                                                              "地址码以 %q 开头，不是省级行政区划代码",
	"birth date (characters %s) is not a calendar date":                                                                                   "出生日期（第 %s 位）不是有效的日期",
	"birth date (characters %s) is before %s":                                                                                             "出生日期（第 %s 位）早于 %s",
	"birth date (characters %s) is after %s":                                                                                              "出生日期（第 %s 位）晚于 %s",
	"sequence code (characters %s) is 000, which is never assigned":                                                                       "顺序码（第 %s 位）是 000，从不分配",
	"check character is %q, expected %q: the 18th character does not match the first 17, so a digit was probably mistyped or two swapped": "校验码是 %q，应为 %q：第 18 位与前 17 位不符，可能有一位输错或两位颠倒",
	"holds a birth date after today":                                                                                                      "其中的出生日期晚于今天",

	// Certificates.
	"has %d characters (spaces not counted); a certificate number has 20: the 18-character ID number, the category digit and the grade digit": "有 %d 位（不计空格）；残疾人证号为 20 位：18 位身份证号、1 位类别、1 位等级",
	"character 19 (disability category) is %q; expected 1 to 7":                                                                               "第 19 位（残疾类别）是 %q；应为 1 到 7",
	"character 20 (disability grade) is %q; expected 1 to 4":                                                                                  "第 20 位（残疾等级）是 %q；应为 1 到 4",
	"%d is not a disability grade (1 to 4)":                                                                                                   "%d 不是残疾等级（1 到 4）",
	"%d is not a disability category (1 to 7)":                                                                                                "%d 不是残疾类别（1 到 7）",
	"%s is not a disability grade; expected 1 to 4":                                                                                           "%s 不是残疾等级；应为 1 到 4",
	"%s is not after the issue date %s":                                                                                                       "%s 不晚于发证日期 %s",
	"%s is not after the regrade date %s":                                                                                                     "%s 不晚于调级日期 %s",
	"%s is before the certificate's issue date %s":                                                                                            "%s 早于发证日期 %s",

	// Entitlements.
	"%s is before the suspension began on %s":          "%s 早于暂停开始的日期 %s",
	"%s is before the entitlement's effective_from %s": "%s 早于这项待遇的起始日期 %s",
	"is required and must be more than 0.00":           "必须填写，且大于 0.00",

	// Money.
	"is empty; expected an amount in yuan such as 110.00":                      "没有填写；请填写以元为单位的金额，如 110.00",
	"%s is not a number; expected an amount in yuan such as 110.00":            "%s 不是数字；请填写以元为单位的金额，如 110.00",
	"%s is negative; amounts must be zero or more":                             "%s 是负数；金额不能小于零",
	"%s has %d decimal places; at most 2 are allowed (fen)":                    "%s 有 %d 位小数；最多两位（到分）",
	"%s contains whitespace":                                                   "%s 含有空格",
	"%s has more than one decimal point":                                       "%s 有不止一个小数点",
	"%s contains %q at position %d; only digits 0-9 and one \".\" are allowed": "%s 的第 %[3]d 位是 %[2]q；只能有数字 0-9 和一个小数点",

	// The payroll and claims.
	"%s is more than a month ahead; payroll pays what is owed now": "%s 超前一个月以上；发放只发目前应发的",
	"is required: say why the batch is rejected":                   "必须填写：请说明退回这一批次的理由",
	"is required to write a claim off":                             "核销必须填写理由",
	"must be more than 0.00":                                       "必须大于 0.00",
	"%s is more than the %s the claim still asks":                  "%s 超过了这笔追回尚欠的 %s",
	"choose the bank's return file":                                "请选择银行的回盘文件",
	"is larger than 32 MiB":                                        "超过 32 MiB",

	// The desk's own.
	"the form has no token: show it again":      "表单已失效：请重新打开本页再填写",
	"%q is not a year between 2000 and 2100":    "%q 不是 2000 到 2100 之间的年份",
	"%d is not a year from %d to %d":            "%d 不是 %d 到 %d 之间的年份",
	"%q is not one of month, township, program": "%q 不是可选的分组（按月、按乡镇、按项目）",
	"%q is not one of csv, xlsx":                "%q 不是可选的文件格式（csv 或 xlsx）",
	"%q is not one of %s":                       "%q 不在可选范围内（%s）",
}

// rulesZH says in Chinese why a rule refused a command, for the rules the
// desk's actions meet, as reasonsZH does for fields (the domain's format
// for Violation as the key). A program's code among the arguments is
// said by its Chinese name. Where the Chinese leaves an argument out (a
// command's name), it numbers the ones it says. A refusal without an
// entry is said by ruleNames, with the domain's English after it.
var rulesZH = map[string]string{
	"%s requires a valid disability certificate on %s (none on record)":             "%s要求在 %s 持有有效的残疾人证（此人没有残疾人证记录）",
	"%s requires a valid disability certificate on %s (certificate valid %s to %s)": "%s要求在 %s 持有有效的残疾人证（此人的残疾人证有效期为 %s 至 %s）",
	"%s requires grade 1 or 2 on %s":                                                "%s要求在 %s 残疾等级为一级或二级",
	"%s requires a household on dibao (低保) on %s":                                   "%s要求在 %s 家庭享受低保",
	"%s requires not being on tekun (特困) support on %s":                             "%s要求在 %s 未享受特困人员救助供养",
	"%s requires not receiving work-injury nursing allowance on %s":                 "%s要求在 %s 未享受工伤保险护理费",
	"%s requires a poor household (dibao, tekun or a household class) on %s":        "%s要求在 %s 为困难家庭（低保、特困，或脱贫户、监测户）",
	"%s requires a registered vehicle plate on %s":                                  "%s要求在 %s 已登记机动轮椅车车牌",
	"%s requires a registered person on %s":                                         "%s要求在 %s 此人已登记",
	"%s requires an active %s entitlement or a %s grant in %d on %s":                "%[1]s要求在 %[5]s 正在享受%[2]s，或在 %[4]d 年获得过%[3]s",
	"%s is granted at most once per person; granted on %s (grant %s)":               "%s每人只能享受一次；已于 %s 发放（编号 %s）",
	"%s proposed %s and may not approve it: another user must":                      "%s 提出了申请 %s，不能自己审批：须由另一位工作人员审批",
	"%s drafted batch %s and may not approve it: another finance user must":         "%s 生成了批次 %s，不能自己批准：须由另一位财务人员批准",
	"%s: the person died on %s; only RetractDeath is allowed":                       "此人已于 %[2]s 死亡，只能撤销死亡登记",
}

// reasonText is why fe refused its field, in Chinese when reasonsZH has
// its format.
func reasonText(fe *domain.FieldError) string {
	if zh, ok := reasonsZH[fe.Format]; ok {
		return fmt.Sprintf(zh, fe.Args...)
	}
	return fe.Reason
}

// ruleText is why re refused a command, in Chinese: from rulesZH when it
// has the format, else ruleNames's sentence and the domain's message.
func ruleText(re *domain.RuleError) string {
	if zh, ok := rulesZH[re.Format]; ok {
		args := make([]any, len(re.Args))
		for i, a := range re.Args {
			args[i] = a
			if code, ok := a.(domain.ProgramCode); ok {
				if p, ok := domain.LookupProgram(code); ok {
					args[i] = p.Name
				}
			}
		}
		return fmt.Sprintf(zh, args...)
	}
	if n, ok := ruleNames[re.Rule]; ok {
		return n + "。（" + re.Message + "）"
	}
	return re.Message
}
