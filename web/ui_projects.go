package web

import (
	"net/http"
	"strings"

	"github.com/authz/authz/models"
	"github.com/labstack/echo/v4"
)

// The console's organization pages: the choice of organization and the
// projects.

// homePage is GET /admin/: a person in one organization goes straight to
// its credentials; a person in several chooses one (the header's switcher
// lists them too).
func (u *adminUI) homePage(c echo.Context, p *uiCtx) error {
	switch len(p.orgs) {
	case 0:
		return u.errorPage(c, p, http.StatusForbidden, "No organization",
			"You are not an active member of any organization. Ask an owner of your organization to add you.")
	case 1:
		return c.Redirect(http.StatusSeeOther, UIPrefix+"/o/"+p.orgs[0].Org.Slug+"/")
	}
	return u.renderPage(c, p, http.StatusOK, "orgs.html", "Choose an organization", "", viewOrgs(p.orgs))
}

// orgHome is GET /admin/o/{org}: on to the organization's credentials.
func (u *adminUI) orgHome(c echo.Context, p *uiCtx) error {
	return c.Redirect(http.StatusSeeOther, p.base()+"/")
}

type projectForm struct {
	Slug, Name, Resource string
}

type projectsData struct {
	Projects  []ProjectView
	Default   string // the default project's slug
	Form      projectForm
	Errors    map[string]string
	FormError string
}

// projectsPage is GET /admin/o/{org}/projects: the organization's projects
// with the audience of their tokens; owners and admins also create
// projects and choose the default one here.
func (u *adminUI) projectsPage(c echo.Context, p *uiCtx) error {
	return u.renderProjects(c, p, http.StatusOK, projectForm{}, nil, "")
}

func (u *adminUI) renderProjects(c echo.Context, p *uiCtx, status int, form projectForm, errs map[string]string, formErr string) error {
	projects, err := u.Store.ListProjects(c.Request().Context(), p.org.ID)
	if err != nil {
		return err
	}
	d := projectsData{Form: form, Errors: errs, FormError: formErr}
	for i := range projects {
		v := u.viewProject(p.org, &projects[i])
		if v.Default {
			d.Default = v.Slug
		}
		d.Projects = append(d.Projects, v)
	}
	pg := u.page(p, "Projects", "projects", d)
	pg.Notice = notice(c)
	return u.renderWith(c, status, "projects.html", pg)
}

// projectFields says which field of the project form an error is about.
var projectFields = map[string]string{
	"invalid_slug": "slug", "slug_taken": "slug", "invalid_name": "name",
	"invalid_resource": "resource", "resource_taken": "resource",
}

// createProjectSubmit is POST /admin/o/{org}/projects (slug, name,
// resource).
func (u *adminUI) createProjectSubmit(c echo.Context, p *uiCtx) error {
	f := c.Request().PostForm
	form := projectForm{Slug: strings.TrimSpace(f.Get("slug")), Name: strings.TrimSpace(f.Get("name")), Resource: strings.TrimSpace(f.Get("resource"))}
	pr := &models.Project{OrgID: p.org.ID, Slug: form.Slug, Name: form.Name, Resource: form.Resource}
	if err := u.Registry.CreateProject(c.Request().Context(), p.actor(), pr); err != nil {
		status, body, known := render(err)
		if !known {
			return err
		}
		if field := projectFields[body.Code]; field != "" {
			return u.renderProjects(c, p, status, form, map[string]string{field: body.Message}, "")
		}
		return u.renderProjects(c, p, status, form, nil, body.Message)
	}
	logOutcome(c, "project_created")
	return c.Redirect(http.StatusSeeOther, p.base()+"/projects?notice=project_created")
}

// defaultProjectSubmit is POST /admin/o/{org}/default-project (project: a
// slug, or empty for none).
func (u *adminUI) defaultProjectSubmit(c echo.Context, p *uiCtx) error {
	if err := u.Registry.SetDefaultProject(c.Request().Context(), p.actor(), c.Request().PostForm.Get("project")); err != nil {
		return notFound(err, "project_not_found", "project")
	}
	logOutcome(c, "default_project_set")
	return c.Redirect(http.StatusSeeOther, p.base()+"/projects?notice=default_set")
}
