package web

import (
	"net/http"
	"strings"
	"time"

	"github.com/authz/authz/models"
	"github.com/labstack/echo/v4"
)

// ProjectView is a project as the admin API shows it. Resource is the
// project's own resource ("" when it derives one); EffectiveResource is
// what its tokens carry as aud, and what an organization-wide client names
// in a token request's resource parameter.
type ProjectView struct {
	Slug              string    `json:"slug"`
	Name              string    `json:"name"`
	Resource          string    `json:"resource"`
	EffectiveResource string    `json:"effective_resource"`
	Default           bool      `json:"default"`
	CreatedAt         time.Time `json:"created_at"`
}

func (a *adminAPI) viewProject(org *models.Organization, pr *models.Project) ProjectView {
	return ProjectView{
		Slug: pr.Slug, Name: pr.Name, Resource: pr.Resource, EffectiveResource: pr.EffectiveResource(a.issuer, a.DefaultAudience, org.Slug),
		Default: pr.ID == org.DefaultProjectID, CreatedAt: pr.CreatedAt.UTC(),
	}
}

// getOrg is GET /orgs/{org}: the organization, the caller's role in it and
// its default project.
func (a *adminAPI) getOrg(c echo.Context, p *principal) error {
	if _, err := query(c); err != nil {
		return err
	}
	projects, err := a.Store.ListProjects(c.Request().Context(), p.org.ID)
	if err != nil {
		return err
	}
	def := ""
	for _, pr := range projects {
		if pr.ID == p.org.DefaultProjectID {
			def = pr.Slug
		}
	}
	return c.JSON(http.StatusOK, OrgView{Slug: p.org.Slug, Name: p.org.Name, Role: p.user.Role, DefaultProject: &def})
}

// listProjects is GET /orgs/{org}/projects: every project of the
// organization, by slug.
func (a *adminAPI) listProjects(c echo.Context, p *principal) error {
	if _, err := query(c); err != nil {
		return err
	}
	projects, err := a.Store.ListProjects(c.Request().Context(), p.org.ID)
	if err != nil {
		return err
	}
	out := page[ProjectView]{Items: make([]ProjectView, 0, len(projects))}
	for i := range projects {
		out.Items = append(out.Items, a.viewProject(p.org, &projects[i]))
	}
	return c.JSON(http.StatusOK, out)
}

// projectByParam returns the project of the organization of the URL named
// by the project parameter (a slug).
func (a *adminAPI) projectByParam(c echo.Context, p *principal) (*models.Project, error) {
	slug, err := pathParam(c, "project")
	if err != nil {
		return nil, err
	}
	pr, err := a.Store.ProjectBySlug(c.Request().Context(), p.org.ID, slug)
	return pr, notFound(err, "project_not_found", "project")
}

// getProject is GET /orgs/{org}/projects/{project}.
func (a *adminAPI) getProject(c echo.Context, p *principal) error {
	if _, err := query(c); err != nil {
		return err
	}
	pr, err := a.projectByParam(c, p)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, a.viewProject(p.org, pr))
}

// createProject is POST /orgs/{org}/projects {"slug","name","resource"}:
// resource is optional (absent: derived from the issuer, the organization
// and the project); the Registry refuses one taken by another project
// (409 resource_taken) or under <issuer>/orgs/ (400 invalid_resource).
func (a *adminAPI) createProject(c echo.Context, p *principal) error {
	if _, err := query(c); err != nil {
		return err
	}
	var in struct {
		Slug     string `json:"slug"`
		Name     string `json:"name"`
		Resource string `json:"resource"`
	}
	if err := decodeJSON(c, &in, true); err != nil {
		return err
	}
	pr := &models.Project{OrgID: p.org.ID, Slug: strings.TrimSpace(in.Slug), Name: strings.TrimSpace(in.Name), Resource: strings.TrimSpace(in.Resource)}
	if err := a.Registry.CreateProject(c.Request().Context(), p.actor(), pr); err != nil {
		return err
	}
	c.Response().Header().Set("Location", p.orgPath()+"/projects/"+pr.Slug)
	return c.JSON(http.StatusCreated, a.viewProject(p.org, pr))
}

// setDefaultProject is PUT /orgs/{org}/default-project {"project": slug}:
// the project an organization-wide client's token is for when its request
// names no resource; "" for none (such requests are then refused with
// invalid_target).
func (a *adminAPI) setDefaultProject(c echo.Context, p *principal) error {
	if _, err := query(c); err != nil {
		return err
	}
	var in struct {
		Project *string `json:"project"`
	}
	if err := decodeJSON(c, &in, true); err != nil {
		return err
	}
	if in.Project == nil {
		return models.Errorf(models.KindInvalid, "invalid_json", "field \"project\" is required: a project's slug, or \"\" for none")
	}
	slug := *in.Project
	if err := a.Registry.SetDefaultProject(c.Request().Context(), p.actor(), slug); err != nil {
		return notFound(err, "project_not_found", "project")
	}
	return c.JSON(http.StatusOK, OrgView{Slug: p.org.Slug, Name: p.org.Name, Role: p.user.Role, DefaultProject: &slug})
}
