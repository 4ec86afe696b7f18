package web

import (
	"context"
	"errors"
	"net/http"
	"slices"

	"github.com/go-chi/chi/v5"

	"github.com/lushan-dpf/ledger/app"
	"github.com/lushan-dpf/ledger/domain"
	"github.com/lushan-dpf/ledger/reports"
)

// The change-notice archive (变更通知): every notice issued to the
// townships and the departments, newest first, each file produced again
// from its recorded window and checked against the SHA-256 recorded when
// it was issued (app.Notices.Regenerate) — the ledger keeps no copy of a
// file, which may carry full ID numbers.

// NoticeArchive is the change notices issued (app.Notices implements it).
type NoticeArchive interface {
	List(ctx context.Context, departments ...domain.Department) ([]domain.ChangeNoticeIssued, error)
	Find(ctx context.Context, d domain.Department, id string) (domain.ChangeNoticeIssued, error)
	Regenerate(ctx context.Context, src app.NoticeSource, ev domain.ChangeNoticeIssued) ([]byte, error)
}

// readsNotices may open the archive: caseworkers, who issue notices, and
// auditors.
func readsNotices(role string) bool { return caseworker(role) || auditor(role) }

var departmentNames = map[domain.Department]string{
	domain.DepartmentNone: "各乡镇", domain.DepartmentCivilAffairs: "民政局", domain.DepartmentMedicalInsurance: "医保局",
	domain.DepartmentAgriculture: "农业农村局", domain.DepartmentHumanResources: "人社局",
}

type noticeRow struct {
	domain.ChangeNoticeIssued
	Recipient, File string
}

type noticesData struct {
	Notices          []noticeRow
	Page, Pages, All int
}

func (k *desk) noticesPage(w http.ResponseWriter, r *http.Request) {
	list, err := k.Notices.List(r.Context())
	if err != nil {
		k.failErr(w, r, err)
		return
	}
	// Newest first: by the day issued, and within a day by recipient.
	slices.SortStableFunc(list, func(a, b domain.ChangeNoticeIssued) int { return b.IssuedOn.Compare(a.IssuedOn) })
	d := noticesData{All: len(list), Pages: max((len(list)+pageSize-1)/pageSize, 1)}
	if d.Page, err = pageParam(r); err == nil && d.Page > d.Pages {
		err = domain.Invalid("page", "%d is not a page between 1 and %d", d.Page, d.Pages)
	}
	if err != nil {
		k.badQuery(w, r, err)
		return
	}
	for _, n := range list[min((d.Page-1)*pageSize, len(list)):min(d.Page*pageSize, len(list))] {
		d.Notices = append(d.Notices, noticeRow{ChangeNoticeIssued: n, Recipient: departmentNames[n.Department],
			File: reports.ChangesFilename(n.NoticeID, reports.ChangesFormat(n.Format))})
	}
	k.render(w, r, http.StatusOK, "notices", "变更通知存档", d)
}

// noticeFile sends a notice's file, produced again and checked.
func (k *desk) noticeFile(w http.ResponseWriter, r *http.Request) {
	dept := chi.URLParam(r, "department")
	if dept == "townships" {
		dept = ""
	}
	d, err := domain.ParseDepartment("department", dept)
	var n domain.ChangeNoticeIssued
	if err == nil {
		n, err = k.Notices.Find(r.Context(), d, chi.URLParam(r, "notice"))
	}
	var file []byte
	if err == nil {
		file, err = k.Notices.Regenerate(r.Context(), k.NoticeSource, n)
	}
	switch {
	case err == nil:
	case errors.Is(err, app.ErrChangesDiffer):
		k.fail(w, r, http.StatusConflict, "无法原样重现", "这份通知按登记的时段重新生成后，与当时发出的文件（SHA-256 "+n.FileSHA256+"）不一致：其后登记了更早日期的事件，或读模型被以不同方式重建。请联系系统管理员。")
		return
	case errors.Is(err, domain.ErrNotFound), errors.Is(err, domain.ErrInvalid):
		k.fail(w, r, http.StatusNotFound, "未找到", "没有这份变更通知。")
		return
	default:
		k.failErr(w, r, err)
		return
	}
	w.Header().Set("Content-Type", reports.ChangesFormat(n.Format).ContentType())
	w.Header().Set("Content-Disposition", `attachment; filename="`+reports.ChangesFilename(n.NoticeID, reports.ChangesFormat(n.Format))+`"`)
	w.Header().Set("X-Ledger-File-SHA256", n.FileSHA256)
	_, _ = w.Write(file)
}
