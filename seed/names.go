package seed

import (
	"fmt"
	"math/rand/v2"
	"strings"

	"github.com/lushan-dpf/ledger/domain"
)

// Reference data of the synthetic county: names, townships, banks and
// in-kind items. Everything here is invented; only the area code and the
// township names are those of Lushan City (庐山市, Jiujiang, Jiangxi).

// lushanArea is the administrative area code of Lushan City, the first six
// characters of its residents' ID numbers.
const lushanArea = "360483"

// township is a town or township of Lushan City with a relative weight
// for how many of the federation's beneficiaries live there.
type township struct {
	name   string
	weight int
}

var townships = []township{
	{"南康镇", 22}, {"白鹿镇", 11}, {"温泉镇", 10}, {"蛟塘镇", 9}, {"华林镇", 9},
	{"横塘镇", 8}, {"星子镇", 8}, {"海会镇", 7}, {"蓼南乡", 6}, {"泽泉乡", 5},
	{"苏家垱乡", 4}, {"牯岭镇", 3},
}

// surnames are common surnames, weighted towards those frequent in
// northern Jiangxi.
var surnames = []struct {
	name   string
	weight int
}{
	{"刘", 60}, {"李", 55}, {"王", 50}, {"陈", 50}, {"张", 45}, {"黄", 40}, {"胡", 35}, {"吴", 30},
	{"罗", 28}, {"徐", 28}, {"万", 25}, {"熊", 24}, {"涂", 20}, {"邹", 20}, {"余", 20}, {"周", 20},
	{"肖", 18}, {"曾", 18}, {"彭", 18}, {"朱", 17}, {"杨", 17}, {"何", 15}, {"郭", 14}, {"汪", 14},
	{"程", 12}, {"蔡", 12}, {"江", 12}, {"付", 11}, {"姜", 10}, {"袁", 10}, {"龚", 10}, {"钟", 9},
	{"谢", 9}, {"邓", 9}, {"冯", 8}, {"雷", 8}, {"查", 7}, {"殷", 6}, {"欧阳", 5}, {"孙", 5},
}

// Given-name characters by generation and gender: names follow fashions,
// so a person born in 1945 and a child born in 2020 are named differently.
var (
	givenOldMale     = []rune("国建华明德福生根水金荣发贵祥春永正来财富友文光有宗松林山海")
	givenOldFemale   = []rune("秀英兰梅珍桂凤琴莲云菊芳花香娥翠玉霞淑素荷莲仙")
	givenMidMale     = []rune("伟强军平斌勇志峰辉涛刚兵波亮杰林俊华东明飞鹏剑锋")
	givenMidFemale   = []rune("芳娟丽霞燕红萍玲敏静艳琳慧洁丹婷英莉")
	givenYoungMale   = []rune("浩宇轩涵睿博文泽子俊梓铭晨一航杰明宸瑞奕")
	givenYoungFemale = []rune("欣怡梓涵诗雨萱可馨子一佳琪思语若汐雅彤")
)

// name returns a plausible name for someone of gender born in year.
func name(r *rand.Rand, gender domain.Gender, year int) string {
	var pool []rune
	switch {
	case year < 1965 && gender == domain.GenderMale:
		pool = givenOldMale
	case year < 1965:
		pool = givenOldFemale
	case year < 2005 && gender == domain.GenderMale:
		pool = givenMidMale
	case year < 2005:
		pool = givenMidFemale
	case gender == domain.GenderMale:
		pool = givenYoungMale
	default:
		pool = givenYoungFemale
	}
	return surname(r) + given(r, pool)
}

func surname(r *rand.Rand) string {
	total := 0
	for _, s := range surnames {
		total += s.weight
	}
	n := r.IntN(total)
	for _, s := range surnames {
		if n < s.weight {
			return s.name
		}
		n -= s.weight
	}
	return surnames[0].name
}

// given returns one or (mostly) two characters from pool, never the same
// character twice.
func given(r *rand.Rand, pool []rune) string {
	a := pool[r.IntN(len(pool))]
	if r.IntN(10) < 2 {
		return string(a)
	}
	b := pool[r.IntN(len(pool))]
	for b == a {
		b = pool[r.IntN(len(pool))]
	}
	return string([]rune{a, b})
}

func pickTownship(r *rand.Rand) string {
	total := 0
	for _, t := range townships {
		total += t.weight
	}
	n := r.IntN(total)
	for _, t := range townships {
		if n < t.weight {
			return t.name
		}
		n -= t.weight
	}
	return townships[0].name
}

// bank is a bank that pays benefits, with the issuer prefix of its debit
// cards.
type bank struct {
	name   string
	prefix string
	weight int
}

var banks = []bank{
	{"中国农业银行庐山市支行", "622848", 35},
	{"江西庐山农村商业银行", "621592", 30},
	{"中国邮政储蓄银行庐山市支行", "621799", 20},
	{"中国建设银行庐山市支行", "621700", 8},
	{"中国工商银行庐山市支行", "622202", 7},
}

func pickBank(r *rand.Rand) bank {
	total := 0
	for _, b := range banks {
		total += b.weight
	}
	n := r.IntN(total)
	for _, b := range banks {
		if n < b.weight {
			return b
		}
		n -= b.weight
	}
	return banks[0]
}

// cardNumber returns a 19-digit card number of b with a valid Luhn check
// digit.
func cardNumber(r *rand.Rand, b bank) string {
	var sb strings.Builder
	sb.WriteString(b.prefix)
	for sb.Len() < 18 {
		sb.WriteByte(byte('0' + r.IntN(10)))
	}
	digits := sb.String()
	sum := 0
	for i := len(digits) - 1; i >= 0; i-- {
		d := int(digits[i] - '0')
		if (len(digits)-1-i)%2 == 0 { // doubled: the check digit will stand to its right
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
	}
	return digits + fmt.Sprint((10-sum%10)%10)
}

// inKindItem is an assistive device the federation issues free of charge.
type inKindItem struct {
	name      string
	unitValue string
	pairs     bool // usually issued two at a time (crutches)
	weight    int
}

var inKindItems = []inKindItem{
	{"轮椅", "680.00", false, 30},
	{"助行器", "120.00", false, 18},
	{"腋拐", "45.00", true, 14},
	{"盲杖", "60.00", false, 8},
	{"助听器", "1800.00", false, 10},
	{"坐便椅", "180.00", false, 12},
	{"防褥疮床垫", "260.00", false, 8},
}

// vehiclePlate returns a plate of a motorized wheelchair registered in
// Jiujiang (赣G).
func vehiclePlate(r *rand.Rand) string {
	const letters = "ABCDEFGHJKLMNPQRSTUVWXYZ"
	return fmt.Sprintf("赣G%c%04d", letters[r.IntN(len(letters))], r.IntN(10000))
}
