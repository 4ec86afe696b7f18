package seed

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/lushan-dpf/ledger/domain"
)

// The scale scenario (`ledger seed --scenario scale`): province-scale
// synthetic load. Persons — valid resident ID numbers, certificates,
// household status, one to three monthly programs each (about two on
// average) for which they are eligible — are decided through the domain's
// own Decide, so their events are those a clerk's commands would produce.
// Then, month by month, every program's payroll: batches opened, their
// lines reserved in the payment shards, drafted, approved, issued
// (PaymentsIssued) and settled by a return file, decided by the payroll
// deciders (DecideReserve, DecideDrafted, DecideIssue, DecideSettle).
// Everything is sealed into hash chains and written through the event
// store's bulk path, AppendMany, with exact expected revisions: NoStream
// for new streams, the revision the scenario left a stream at for the
// next batch, and no stream's append over domain.MaxAppendBytes.
//
// Everything is determined by the options, the seed and the lookup key
// (event IDs derive from command IDs), so running the scenario again with
// the same flags appends nothing new: an interrupted run can be resumed by
// running it again.
//
// Simplifications: every grant is in force from the first month of the
// scenario and nobody leaves, so every month pays every grant once (no
// arrears, no failures). Nobody has a bank account on record, so no bank
// file is exported (no BatchExported); each batch is settled in full by a
// return file that exists only as the SHA-256 recorded for it.

// ScaleOptions configures the scale scenario (the CLI's defaults in
// brackets).
type ScaleOptions struct {
	Persons  int    // persons to register, 1 to 10,000,000 [1,000]
	Years    int    // years of monthly payroll, 1 to 5 [1]
	FromYear int    // the first year paid [2024]; persons register the year before
	Seed     uint64 // varies persons and programs [1]
	// Batch is how many persons one AppendMany registers [1,000].
	Batch int
	// PayrollBatch is how many persons one payroll batch pays [10,000]: a
	// month of a program is paid in several batches, each drafted,
	// approved and settled before the next is opened.
	PayrollBatch int
	// Key is the lookup key that derives person IDs from ID numbers (the
	// deployment's LEDGER_LOOKUP_KEY).
	Key domain.LookupKey
	// Progress, when set, is called after every AppendMany with the events
	// written so far and the total the scenario will write.
	Progress func(done, total int64)
}

// Bounds of the options.
const (
	scaleMaxPersons = 10_000_000
	scaleMaxYears   = 5 // certificates issued before the scenario stay valid through it
)

// Validate checks the options; errors name the flag.
func (o ScaleOptions) Validate() error {
	switch {
	case o.Persons < 1 || o.Persons > scaleMaxPersons:
		return domain.Invalid("persons", "%d is not 1 to %d", o.Persons, scaleMaxPersons)
	case o.Years < 1 || o.Years > scaleMaxYears:
		return domain.Invalid("years", "%d is not 1 to %d", o.Years, scaleMaxYears)
	case o.FromYear < 2015 || o.FromYear > 2090:
		return domain.Invalid("from_year", "%d is not 2015 to 2090", o.FromYear)
	case o.Batch < 1 || o.Batch > 100_000:
		return domain.Invalid("batch", "%d persons per append is not 1 to 100000", o.Batch)
	case o.PayrollBatch < 1 || o.PayrollBatch > 100_000:
		return domain.Invalid("payroll_batch", "%d persons per payroll batch is not 1 to 100000", o.PayrollBatch)
	}
	return o.Key.Validate()
}

// ScaleGrant is a monthly program a person is granted from the first
// month of the scenario.
type ScaleGrant struct {
	Program domain.ProgramCode
	Amount  domain.Money // per month; zero: the catalog rate
}

// ScalePerson is a person of the plan.
type ScalePerson struct {
	ID       domain.PersonID
	Township string
	Grants   []ScaleGrant
}

// ScalePlan is what the scenario writes, worked out before writing.
type ScalePlan struct {
	Options ScaleOptions
	Persons []ScalePerson
	Periods []domain.Period // the months paid, in order
	// Events is how many events the scenario appends, EventsByType the
	// same by event type.
	Events       int64
	EventsByType map[string]int64
	// members lists, per program, the plan indexes of its persons.
	members map[domain.ProgramCode][]int32
}

// Owed is what the plan pays a grant for a month.
func (p *ScalePlan) Owed(g ScaleGrant, period domain.Period) domain.Money {
	if !g.Amount.IsZero() {
		return g.Amount
	}
	prog, _ := domain.LookupProgram(g.Program)
	rate, _ := prog.RateOn(period.First())
	return rate
}

// scalePrograms are the monthly programs the scenario grants, in the
// order their payroll streams are written.
var scalePrograms = []domain.ProgramCode{
	domain.ProgramLivingSubsidy, domain.ProgramCareSubsidy, domain.ProgramIncapacitySubsidy,
	domain.ProgramPublicWelfareJob, domain.ProgramChildRehabLiving,
}

// scaleProfile is a kind of beneficiary: the programs granted and what
// eligibility for them takes.
type scaleProfile struct {
	weight     int // per 100
	programs   []domain.ProgramCode
	dibao      bool // living_subsidy: household on dibao, not on tekun
	severe     bool // care and incapacity: grade 1 or 2
	poorClass  bool // incapacity: lifted from poverty or monitored
	child      bool // child_rehab_living: age up to 7, in training
	publicPost bool // public_welfare_job: placed in a post
}

// scaleProfiles average 1.98 monthly programs per person.
var scaleProfiles = []scaleProfile{
	{weight: 15, programs: []domain.ProgramCode{domain.ProgramLivingSubsidy}, dibao: true},
	{weight: 12, programs: []domain.ProgramCode{domain.ProgramCareSubsidy}, severe: true},
	{weight: 30, programs: []domain.ProgramCode{domain.ProgramLivingSubsidy, domain.ProgramCareSubsidy}, dibao: true, severe: true},
	{weight: 9, programs: []domain.ProgramCode{domain.ProgramCareSubsidy, domain.ProgramIncapacitySubsidy}, severe: true, poorClass: true},
	{weight: 7, programs: []domain.ProgramCode{domain.ProgramLivingSubsidy, domain.ProgramPublicWelfareJob}, dibao: true, publicPost: true},
	{weight: 25, programs: []domain.ProgramCode{domain.ProgramLivingSubsidy, domain.ProgramCareSubsidy, domain.ProgramIncapacitySubsidy},
		dibao: true, severe: true, poorClass: true},
	{weight: 2, programs: []domain.ProgramCode{domain.ProgramCareSubsidy, domain.ProgramChildRehabLiving}, severe: true, child: true},
}

// Area codes of the ID numbers: districts and counties of Nanchang and
// Jingdezhen for adults, of Pingxiang for children, so the two never share
// a number — nor with the lushan-2024 scenario's persons of Jiujiang.
var (
	scaleAdultAreas = []string{"360102", "360103", "360104", "360111", "360112", "360113", "360121", "360123", "360124", "360202", "360203", "360222"}
	scaleChildAreas = []string{"360302", "360313"}
)

// Money the programs without a catalog rate pay, per month.
var (
	scaleIncapacityAmounts = []domain.Money{domain.MustMoney("300.00"), domain.MustMoney("400.00"), domain.MustMoney("500.00")}
	scalePublicWelfare     = domain.MustMoney("800.00")
	scaleLibraryManager    = domain.MustMoney("500.00")
	scaleChildLiving       = domain.MustMoney("200.00")
	scaleChildTraining     = domain.MustMoney("14000.00")
)

// scaleCommand is a command with the system time it is recorded at.
type scaleCommand struct {
	cmd domain.Command
	now time.Time
}

// scaleLife is one person as the scenario decides them.
type scaleLife struct {
	person ScalePerson
	cmds   []scaleCommand
}

// scaleCoprime returns a multiplier scaleCoprime with n, for spreading indexes over
// n days.
func scaleCoprime(n int) int {
	gcd := func(a, b int) int {
		for b != 0 {
			a, b = b, a%b
		}
		return a
	}
	for _, m := range []int{7919, 7927, 7933, 7937, 7949} {
		if gcd(m, n) == 1 {
			return m
		}
	}
	return 1
}

// life decides person i's commands. Everything comes from the seed and i,
// so any person can be worked out on its own, in any order. The ID number
// is a function of i that never repeats: day of birth, then sequence
// number, then area code.
func (o ScaleOptions) life(i int) (scaleLife, error) {
	r := rand.New(rand.NewPCG(o.Seed, uint64(i)))
	pick := r.IntN(100)
	var prof scaleProfile
	for _, p := range scaleProfiles {
		if pick < p.weight {
			prof = p
			break
		}
		pick -= p.weight
	}
	y := o.FromYear
	date := func(from domain.Date, days int) domain.Date { return from.AddDays(r.IntN(max(days, 1))) }

	// Birth and ID number.
	birthFrom, birthTo, areas := domain.NewDate(1940, 1, 1), domain.NewDate(1999, 12, 31), scaleAdultAreas
	if prof.child {
		// Aged 1 to 6 on 1 January of the first year: the age limit of
		// child_rehab_living is 7 under every rule set.
		birthFrom, birthTo, areas = domain.NewDate(y-7, 1, 2), domain.NewDate(y-2, 6, 30), scaleChildAreas
	}
	days := int(birthTo.Time().Sub(birthFrom.Time()).Hours()/24) + 1
	off := int(o.Seed % uint64(days))
	birth := birthFrom.AddDays((i*scaleCoprime(days)%days + off) % days)
	block := i / days
	rid, err := domain.NewResidentID(areas[(block/999)%len(areas)], birth, 1+block%999)
	if err != nil {
		return scaleLife{}, fmt.Errorf("person %d: %w", i, err)
	}
	hash := o.Key.Hash(rid)
	person := ScalePerson{ID: domain.PersonIDFromHash(hash), Township: pickTownship(r)}

	// Certificate: issued before registering, valid ten years, so through
	// the last year of the scenario.
	cat := domain.DisabilityCategory(1 + r.IntN(7))
	grade := domain.DisabilityGrade(3 + r.IntN(2))
	if prof.severe {
		grade = domain.DisabilityGrade(1 + r.IntN(2))
	}
	var issued, registered domain.Date
	if prof.child {
		cat = []domain.DisabilityCategory{domain.CategoryHearing, domain.CategoryIntellectual, domain.CategoryPhysical}[r.IntN(3)]
		issued = date(birth.AddDays(200), 165)
	} else {
		issued = date(domain.NewDate(y-5, 1, 1), 365*4+180)
	}
	registered = date(issued, 150)
	cert, err := domain.NewCertificateNumber(rid, cat, grade)
	if err != nil {
		return scaleLife{}, fmt.Errorf("person %d: %w", i, err)
	}

	// Household status as the programs need it; some change once after
	// registering (the class is updated), before any grant.
	final := domain.HouseholdStatus{Dibao: prof.dibao || r.IntN(5) == 0}
	if !prof.dibao && r.IntN(20) == 0 {
		final.Tekun, final.Dibao = true, false
	}
	if !prof.severe && r.IntN(20) == 0 {
		final.WorkInjuryNursing = true
	}
	switch n := r.IntN(100); {
	case prof.poorClass && n < 60, !prof.poorClass && n < 15:
		final.Class = domain.HouseholdLiftedFromPoverty
	case prof.poorClass && n < 75, !prof.poorClass && n < 17:
		final.Class = domain.HouseholdMonitoredMarginal
	case prof.poorClass && n < 85, !prof.poorClass && n < 18:
		final.Class = domain.HouseholdMonitoredUnstable
	case prof.poorClass, !prof.poorClass && n < 20:
		final.Class = domain.HouseholdMonitoredHardship
	case n < 30:
		final.Class = domain.HouseholdUrbanNeedy
	}
	initial := final
	changed := r.IntN(10) == 0
	if changed {
		initial.Class = domain.HouseholdNone
		if final.Class == domain.HouseholdNone {
			initial.Class = domain.HouseholdUrbanNeedy
		}
	}

	gender := rid.Gender()
	regNow := time.Date(registered.Year(), registered.Month(), registered.Day(), 8, 30, 0, 0, time.UTC).Add(time.Duration(r.IntN(480)) * time.Minute)
	l := scaleLife{person: person}
	l.cmds = append(l.cmds,
		scaleCommand{domain.RegisterPerson{IDNumber: rid, IDHash: hash, Name: name(r, gender, birth.Year()), Township: person.Township,
			Household: initial, RegisteredOn: registered}, regNow},
		scaleCommand{domain.IssueCertificate{Number: cert, IssuedOn: issued, ValidUntil: domain.NewDate(issued.Year()+10, issued.Month(), issued.Day()).AddDays(-1)},
			regNow.Add(3 * time.Minute)})
	if changed {
		on := date(registered.AddDays(1), 20)
		l.cmds = append(l.cmds, scaleCommand{domain.ChangeHouseholdStatus{Status: final, EffectiveOn: on},
			time.Date(on.Year(), on.Month(), on.Day(), 10, 0, 0, 0, time.UTC)})
	}

	// Grants, decided in the first days of the first year, in force from
	// 1 January.
	jan1 := domain.NewDate(y, 1, 1)
	grantNow := time.Date(y, 1, 2+r.IntN(3), 9+r.IntN(8), r.IntN(60), 0, 0, time.UTC)
	for k, prog := range prof.programs {
		g := domain.GrantEntitlement{Program: prog, EffectiveFrom: jan1}
		switch prog {
		case domain.ProgramIncapacitySubsidy:
			g.Amount = scaleIncapacityAmounts[r.IntN(len(scaleIncapacityAmounts))]
		case domain.ProgramPublicWelfareJob:
			g.Attributes.Post, g.Amount = domain.PostPublicWelfare, scalePublicWelfare
			if r.IntN(5) < 2 {
				g.Attributes.Post, g.Amount = domain.PostLibraryManager, scaleLibraryManager
			}
		case domain.ProgramChildRehabLiving:
			g.Amount = scaleChildLiving
			l.cmds = append(l.cmds, scaleCommand{domain.RecordOneOffGrant{GrantID: fmt.Sprintf("crt-%d", y),
				Program: domain.ProgramChildRehabTraining, Amount: scaleChildTraining, EffectiveOn: jan1}, grantNow})
		}
		l.cmds = append(l.cmds, scaleCommand{g, grantNow.Add(time.Duration(k+1) * time.Minute)})
		l.person.Grants = append(l.person.Grants, ScaleGrant{Program: prog, Amount: g.Amount})
	}
	return l, nil
}

// scaleEventType names the event each of the scenario's person commands
// produces (one each).
func scaleEventType(c domain.Command) string {
	switch c.(type) {
	case domain.RegisterPerson:
		return domain.TypePersonRegistered
	case domain.IssueCertificate:
		return domain.TypeCertificateIssued
	case domain.ChangeHouseholdStatus:
		return domain.TypeHouseholdStatusChanged
	case domain.RecordOneOffGrant:
		return domain.TypeOneOffGranted
	case domain.GrantEntitlement:
		return domain.TypeEntitlementGranted
	}
	return "?"
}

// PlanScale works out the scenario for o without writing anything.
func PlanScale(o ScaleOptions) (*ScalePlan, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	p := &ScalePlan{Options: o, Persons: make([]ScalePerson, o.Persons), EventsByType: map[string]int64{},
		members: map[domain.ProgramCode][]int32{}}
	counts := make([]map[string]int64, runtime.GOMAXPROCS(0))
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	for w := range counts {
		counts[w] = map[string]int64{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < o.Persons; i += len(counts) {
				l, err := o.life(i)
				if err != nil {
					mu.Lock()
					firstErr = scaleFirstErr(firstErr, err)
					mu.Unlock()
					return
				}
				p.Persons[i] = l.person
				for _, c := range l.cmds {
					counts[w][scaleEventType(c.cmd)]++
				}
			}
		}()
	}
	wg.Wait()
	if firstErr != nil {
		return nil, firstErr
	}
	for _, c := range counts {
		for t, n := range c {
			p.EventsByType[t] += n
		}
	}
	for i, person := range p.Persons {
		for _, g := range person.Grants {
			p.members[g.Program] = append(p.members[g.Program], int32(i))
		}
	}
	first, _ := domain.NewPeriod(o.FromYear, time.January)
	for per := first; per.Year() < o.FromYear+o.Years; per = per.Next() {
		p.Periods = append(p.Periods, per)
	}
	months := int64(len(p.Periods))
	for _, prog := range scalePrograms {
		m := p.members[prog]
		for start := 0; start < len(m); start += o.PayrollBatch {
			for _, t := range []string{domain.TypeBatchOpened, domain.TypeBatchDrafted, domain.TypeBatchApproved, domain.TypeBatchIssued, domain.TypeReturnImported} {
				p.EventsByType[t] += months
			}
			var inShard [domain.PaymentShards]int64
			for _, i := range m[start:min(start+o.PayrollBatch, len(m))] {
				inShard[domain.PaymentShard(p.Persons[i].ID)]++
			}
			for _, c := range inShard {
				chunks := (c + int64(scaleLines) - 1) / int64(scaleLines)
				for _, t := range []string{domain.TypeLinesReserved, domain.TypePaymentsIssued, domain.TypePaymentsSettled} {
					p.EventsByType[t] += chunks * months
				}
			}
		}
	}
	for _, n := range p.EventsByType {
		p.Events += n
	}
	return p, nil
}

func scaleFirstErr(have, err error) error {
	if have != nil {
		return have
	}
	return err
}

// ScaleResult reports a run.
type ScaleResult struct {
	Persons       int
	Events        int64 // events written (or found written by an earlier run)
	EventsByType  map[string]int64
	PersonEvents  int64
	PersonTime    time.Duration
	PayrollEvents int64
	PayrollTime   time.Duration
	Elapsed       time.Duration
}

// Rate is the events written per second.
func (r ScaleResult) Rate() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Events) / r.Elapsed.Seconds()
}

// Scale writes the scenario planned by PlanScale(o) into store.
func Scale(ctx context.Context, store domain.EventStore, o ScaleOptions) (ScaleResult, error) {
	plan, err := PlanScale(o)
	if err != nil {
		return ScaleResult{}, err
	}
	return plan.Write(ctx, store)
}

// Write writes the plan into store: the persons, then the months'
// payrolls.
func (p *ScalePlan) Write(ctx context.Context, store domain.EventStore) (ScaleResult, error) {
	w := &scaleWriter{plan: p, store: store, res: ScaleResult{Persons: len(p.Persons), EventsByType: map[string]int64{}}}
	start := time.Now()
	if err := w.persons(ctx); err != nil {
		return w.res, err
	}
	w.res.PersonTime = time.Since(start)
	w.res.PersonEvents = w.res.Events
	if err := w.payroll(ctx); err != nil {
		return w.res, err
	}
	w.res.Elapsed = time.Since(start)
	w.res.PayrollTime = w.res.Elapsed - w.res.PersonTime
	w.res.PayrollEvents = w.res.Events - w.res.PersonEvents
	return w.res, nil
}

type scaleWriter struct {
	plan  *ScalePlan
	store domain.EventStore
	res   ScaleResult
}

// append writes one bulk append and checks every stream landed where the
// scenario expects.
func (w *scaleWriter) append(ctx context.Context, appends []domain.StreamAppend, next []uint64) error {
	res, err := w.store.AppendMany(ctx, appends)
	if err != nil {
		return err
	}
	for i, a := range appends {
		if res[i].NextExpected != next[i] {
			return fmt.Errorf("append %s: the stream is at revision %d, the scenario expected %d", a.Stream, res[i].NextExpected, next[i])
		}
		w.res.Events += int64(len(a.Events))
		for _, e := range a.Events {
			w.res.EventsByType[e.Type]++
		}
	}
	if f := w.plan.Options.Progress; f != nil {
		f(w.res.Events, w.plan.Events)
	}
	return nil
}

// scaleLastHash returns the hash chain's head after evs.
func scaleLastHash(evs []domain.EventData) (string, error) {
	md, err := domain.DecodeMetadata(evs[len(evs)-1].Metadata)
	return md.Hash, err
}

// sealPerson decides and seals person i's commands into their stream,
// their personal data with keys.
func (p *ScalePlan) sealPerson(ctx context.Context, keys domain.PersonalKeys, i int) (domain.StreamAppend, error) {
	o := p.Options
	l, err := o.life(i)
	if err != nil {
		return domain.StreamAppend{}, err
	}
	var state domain.Beneficiary
	var out []domain.EventData
	prev := ""
	for k, c := range l.cmds {
		evs, err := domain.Decide(state, c.cmd, c.now)
		if err != nil {
			return domain.StreamAppend{}, fmt.Errorf("person %d (%s): %s: %w", i, l.person.ID, c.cmd.CommandName(), err)
		}
		if evs, err = domain.SealPersonal(ctx, keys, l.person.ID, evs); err != nil {
			return domain.StreamAppend{}, err
		}
		data, err := domain.Seal(domain.CommandMeta{CommandID: fmt.Sprintf("scale-%d-%d-p%d-%d", o.Seed, o.FromYear, i, k), Actor: "clerk.scale", Role: "clerk", Now: c.now}, prev, evs)
		if err != nil {
			return domain.StreamAppend{}, err
		}
		for _, e := range evs {
			state = domain.Evolve(state, e)
		}
		if prev, err = scaleLastHash(data); err != nil {
			return domain.StreamAppend{}, err
		}
		out = append(out, data...)
	}
	return domain.StreamAppend{Stream: l.person.ID.Stream(), Expected: domain.NoStream(), Events: out}, nil
}

// persons registers everyone, Batch persons per AppendMany, sealing the
// next chunks on the other cores while one is written.
func (w *scaleWriter) persons(ctx context.Context) error {
	o := w.plan.Options
	chunks := (o.Persons + o.Batch - 1) / o.Batch
	return scalePipeline(ctx, chunks, runtime.GOMAXPROCS(0), func(k int) ([]domain.StreamAppend, error) {
		from, to := k*o.Batch, min((k+1)*o.Batch, o.Persons)
		keys := w.store.PersonalKeys()
		if err := prepareKeys(ctx, keys, o, from, to); err != nil {
			return nil, err
		}
		out := make([]domain.StreamAppend, 0, to-from)
		for i := from; i < to; i++ {
			a, err := w.plan.sealPerson(ctx, keys, i)
			if err != nil {
				return nil, err
			}
			out = append(out, a)
		}
		return out, nil
	}, func(_ int, appends []domain.StreamAppend) error {
		next := make([]uint64, len(appends))
		for i, a := range appends {
			next[i] = uint64(len(a.Events) - 1)
		}
		return w.append(ctx, appends, next)
	})
}

// scalePipeline runs gen(0..n-1) on up to workers goroutines, no more
// than workers results ahead of write, and calls write with the results
// in order. It stops at the first error.
func scalePipeline[T any](ctx context.Context, n, workers int, gen func(k int) (T, error), write func(k int, v T) error) error {
	type result struct {
		v   T
		err error
	}
	slots := make([]chan result, n)
	for k := range slots {
		slots[k] = make(chan result, 1)
	}
	tokens := make(chan struct{}, max(workers, 1))
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel() // runs first: stops the dispatcher, then Wait
	wg.Add(1)
	go func() { // the dispatcher
		defer wg.Done()
		for k := range n {
			select {
			case tokens <- struct{}{}:
			case <-ctx.Done():
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				v, err := gen(k)
				slots[k] <- result{v, err}
			}()
		}
	}()
	for k := range n {
		var r result
		select {
		case r = <-slots[k]:
		case <-ctx.Done():
			return ctx.Err()
		}
		if r.err != nil {
			return r.err
		}
		if err := write(k, r.v); err != nil {
			return err
		}
		<-tokens
	}
	return nil
}

// scaleLines is how many lines a chunk event of the scenario carries:
// its lines' JSON stays well under domain.MaxChunkBytes (the scenario's
// townships are short), and the plan can count the chunks ahead. A
// variable only so that tests can make shards take several chunks a batch.
var scaleLines = 400

// prepareKeys has keys make the data keys of persons from to to in one
// go, when they can (postgres.Keyring.Prepare): one round trip a chunk
// instead of one a person.
func prepareKeys(ctx context.Context, keys domain.PersonalKeys, o ScaleOptions, from, to int) error {
	p, ok := keys.(interface {
		Prepare(context.Context, []domain.PersonID) error
	})
	if !ok {
		return nil
	}
	ids := make([]domain.PersonID, 0, to-from)
	for i := from; i < to; i++ {
		l, err := o.life(i)
		if err != nil {
			return err
		}
		ids = append(ids, l.person.ID)
	}
	return p.Prepare(ctx, ids)
}

// scaleChain is where a stream of the scenario stands: its revision and
// the head of its hash chain.
type scaleChain struct {
	exists   bool
	revision uint64
	lastHash string
}

// next is the revision the chain's next event lands at: what names a
// step of a shard, whose steps repeat (a batch reserves and issues its
// lines in chunks of scaleLines).
func (c *scaleChain) next() uint64 {
	if !c.exists {
		return 0
	}
	return c.revision + 1
}

// seal seals events onto the chain and advances it.
func (c *scaleChain) seal(meta domain.CommandMeta, step string, evs ...domain.Event) ([]domain.EventData, error) {
	data, err := domain.SealStep(meta, step, c.lastHash, evs)
	if err != nil {
		return nil, err
	}
	if c.lastHash, err = scaleLastHash(data); err != nil {
		return nil, err
	}
	if c.exists {
		c.revision += uint64(len(data))
	} else {
		c.exists, c.revision = true, uint64(len(data))-1
	}
	return data, nil
}

// scaleLedger is one program's payroll stream and payment shards as the
// scenario has written them so far.
type scaleLedger struct {
	program domain.ProgramCode
	members []int32
	control scaleChain
	shards  [domain.PaymentShards]scaleChain
}

// scaleRound is one round of a month's payroll: some streams' next
// events, with the revision each stream is at afterwards.
type scaleRound struct {
	appends []domain.StreamAppend
	next    []uint64
}

// payroll pays every month, in order: batch n of every program in turn,
// the programs decided in parallel, each batch drafted, approved and
// settled by a return file, its events written in rounds of at most one
// append's worth (domain.MaxAppendBytes) per stream.
func (w *scaleWriter) payroll(ctx context.Context) error {
	p := w.plan
	var ledgers []*scaleLedger
	for _, prog := range scalePrograms {
		if m := p.members[prog]; len(m) > 0 {
			ledgers = append(ledgers, &scaleLedger{program: prog, members: m})
		}
	}
	for _, per := range p.Periods {
		for n := 0; ; n++ {
			var active []*scaleLedger
			for _, l := range ledgers {
				if n*p.Options.PayrollBatch < len(l.members) {
					active = append(active, l)
				}
			}
			if len(active) == 0 {
				break
			}
			rounds := make([][]scaleRound, len(active))
			errs := make([]error, len(active))
			var wg sync.WaitGroup
			for j, l := range active {
				wg.Add(1)
				go func() {
					defer wg.Done()
					rounds[j], errs[j] = p.batch(l, per, n)
				}()
			}
			wg.Wait()
			if err := errors.Join(errs...); err != nil {
				return err
			}
			for _, rs := range rounds {
				for _, r := range rs {
					if err := w.append(ctx, r.appends, r.next); err != nil {
						return err
					}
				}
			}
		}
	}
	return nil
}

// batch decides batch n+1 of a program's month — opened, its lines
// reserved, drafted, approved, issued and settled by a return file — with
// the payroll deciders, and seals it onto the streams' chains. Its
// persons are paid one regular line each for the month: earlier months
// were paid in full by earlier batches, so each shard is decided on a
// state holding only this batch's lines.
func (p *ScalePlan) batch(l *scaleLedger, per domain.Period, n int) ([]scaleRound, error) {
	o := p.Options
	pb := o.PayrollBatch
	members := l.members[n*pb : min((n+1)*pb, len(l.members))]
	// Command IDs under a prefix naming the run: a run with other persons
	// or batches decides other events.
	run := fmt.Sprintf("scale-%d-%dp-%db:", o.Seed, o.Persons, o.PayrollBatch)
	key := fmt.Sprintf("%s/%s/%d", l.program, per, n+1)
	id := domain.BatchIDFor(l.program, per, run+"payroll-run:"+key)
	paidOn := per.First().AddDays(19)
	draftNow := time.Date(per.Year(), per.Month(), 15, 9, 0, 0, 0, time.UTC).Add(time.Duration(n) * time.Minute)
	approveNow := draftNow.Add(24 * time.Hour)
	returnNow := time.Date(paidOn.Year(), paidOn.Month(), paidOn.Day(), 10, 0, 0, 0, time.UTC).Add(72*time.Hour + time.Duration(n)*time.Minute)
	draft := domain.CommandMeta{CommandID: run + "payroll-run:" + key, Actor: "fin.draft", Role: "finance", Now: draftNow}
	approve := domain.CommandMeta{CommandID: run + "payroll-approve:" + key, Actor: "fin.approve", Role: "finance", Now: approveNow}
	sum := sha256.Sum256([]byte("scale return file " + id))
	file := hex.EncodeToString(sum[:])
	reconcile := domain.CommandMeta{CommandID: run + "reconcile:" + id + ":" + file[:16], Actor: "fin.approve", Role: "finance", Now: returnNow}

	var byShard [domain.PaymentShards][]domain.PayrollPerson
	for _, i := range members {
		person := &p.Persons[i]
		var g ScaleGrant
		for _, pg := range person.Grants {
			if pg.Program == l.program {
				g = pg
			}
		}
		changes := []domain.EntitlementChange{{Kind: domain.ChangeGranted, EffectiveDate: per.First(), Amount: g.Amount}}
		k := domain.PaymentShard(person.ID)
		byShard[k] = append(byShard[k], domain.PayrollPerson{PersonID: person.ID, Township: person.Township, Changes: changes})
	}
	opened := domain.BatchOpened{BatchID: id, Program: l.program, Period: per, PaidOn: paidOn, DraftedBy: draft.Actor}
	var perStream [domain.PaymentShards][]domain.EventData
	var lines []domain.PayrollLine
	var issued domain.CountTotal
	for k, ps := range byShard {
		if len(ps) == 0 {
			continue
		}
		st := domain.NewPaymentsShard()
		reserved, err := domain.DecideReserve(st, opened, k, ps)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", id, err)
		}
		// The scenario pays exactly one regular line per person and
		// month; anything else means its own book-keeping is wrong.
		if len(reserved) != len(ps) || slices.ContainsFunc(reserved, func(pl domain.PayrollLine) bool {
			return pl.Kind != domain.PaymentRegular || pl.Period != per
		}) {
			return nil, fmt.Errorf("%s: reserved %d lines for %d persons in shard %x, not one regular payment each", id, len(reserved), len(ps), k)
		}
		lines = append(lines, reserved...)
		c := &l.shards[k]
		add := func(meta domain.CommandMeta, step string, ev domain.Event) error {
			data, err := c.seal(meta, fmt.Sprintf("%s/%x@%d", step, k, c.next()), ev)
			if err != nil {
				return err
			}
			perStream[k] = append(perStream[k], data...)
			return nil
		}
		for chunk := range slices.Chunk(reserved, scaleLines) {
			ev := domain.LinesReserved{BatchID: id, Program: l.program, Period: per, PaidOn: paidOn, Lines: chunk}
			domain.EvolvePaymentsShard(&st, &ev)
			if err := add(draft, "reserve", ev); err != nil {
				return nil, err
			}
		}
		issue, withheld := domain.DecideIssue(st, opened, ps)
		if len(withheld) > 0 {
			return nil, fmt.Errorf("%s: %d lines withheld on approval", id, len(withheld))
		}
		for chunk := range slices.Chunk(issue, scaleLines) {
			ev := domain.PaymentsIssued{BatchID: id, Payments: chunk}
			domain.EvolvePaymentsShard(&st, &ev)
			if err := add(approve, "issue", ev); err != nil {
				return nil, err
			}
			for _, pi := range chunk {
				issued = issued.Plus(pi.Amount)
			}
		}
		settlements := make([]domain.Settlement, len(reserved))
		for j, pl := range reserved {
			settlements[j] = domain.Settlement{Reference: pl.Reference, BankReference: fmt.Sprintf("BK%s%x%06d", file[:6], k, j+1), On: paidOn.AddDays(2)}
		}
		for chunk := range slices.Chunk(domain.DecideSettle(st, id, l.program, settlements).Settled, scaleLines) {
			if err := add(reconcile, "settle", domain.PaymentsSettled{BatchID: id, FileSHA256: file, Payments: chunk}); err != nil {
				return nil, err
			}
		}
	}
	var control domain.PayrollProgram = domain.NewPayrollProgram()
	control.Batches[id] = &domain.Batch{Opened: opened, State: domain.BatchStateDrafting}
	drafted, err := domain.DecideDrafted(control, id, lines)
	if err != nil {
		return nil, err
	}
	var controlData []domain.EventData
	for _, step := range []struct {
		meta domain.CommandMeta
		name string
		ev   domain.Event
	}{
		{draft, "open", opened},
		{draft, "drafted", drafted[0]},
		{approve, "approve", domain.BatchApproved{BatchID: id, Program: l.program, Period: per, ApprovedBy: approve.Actor}},
		{approve, "issued", domain.BatchIssued{BatchID: id, Program: l.program, Period: per, Issued: issued}},
		{reconcile, "return", domain.ReturnImported{BatchID: id, FileSHA256: file, Lines: len(lines), Settled: len(lines), ImportedBy: reconcile.Actor}},
	} {
		data, err := l.control.seal(step.meta, step.name, step.ev)
		if err != nil {
			return nil, err
		}
		controlData = append(controlData, data...)
	}
	// Rounds: each takes the next append's worth of every shard's events;
	// the batch's own events come last, once its lines are all written.
	var rounds []scaleRound
	var at [domain.PaymentShards]int
	var rev [domain.PaymentShards]uint64
	for k := range perStream {
		rev[k] = l.shards[k].revision + 1 - uint64(len(perStream[k]))
	}
	for {
		var r scaleRound
		for k, evs := range perStream {
			if at[k] == len(evs) {
				continue
			}
			end, size := at[k], 0
			for end < len(evs) && (end == at[k] || size+len(evs[end].Data)+len(evs[end].Metadata) <= domain.MaxAppendBytes) {
				size += len(evs[end].Data) + len(evs[end].Metadata)
				end++
			}
			expected := domain.NoStream()
			if start := rev[k] + uint64(at[k]); start > 0 {
				expected = domain.Exact(start - 1)
			}
			r.appends = append(r.appends, domain.StreamAppend{Stream: domain.PaymentsStream(l.program, k), Expected: expected, Events: evs[at[k]:end]})
			r.next = append(r.next, rev[k]+uint64(end)-1)
			at[k] = end
		}
		if len(r.appends) == 0 {
			break
		}
		rounds = append(rounds, r)
	}
	ctlExpected := domain.NoStream()
	if first := l.control.revision + 1 - uint64(len(controlData)); first > 0 {
		ctlExpected = domain.Exact(first - 1)
	}
	rounds = append(rounds, scaleRound{appends: []domain.StreamAppend{{Stream: domain.PayrollStream(l.program), Expected: ctlExpected, Events: controlData}},
		next: []uint64{l.control.revision}})
	return rounds, nil
}
