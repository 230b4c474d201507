// The standalone apiextensions-apiserver of Debian's packaged Kubernetes libraries, as Tributary's tests
// run it (scripts/ensure-kube-api-root.mjs builds it with GO111MODULE=off against /usr/share/gocode).
//
// It is the stock main (k8s.io/apiextensions-apiserver/main.go and pkg/cmd/server) with two changes, so
// that kubectl works against it as against a full kube-apiserver:
//   - discovery on: the stock Complete() turns it off, since inside kube-apiserver the aggregator serves
//     /apis; standalone, `GET /apis` would be a 404 and kubectl's discovery would fail;
//   - an OpenAPI v2 config beside v3: only then does the server run the controllers that publish each
//     CRD's schema to /openapi/v2 and /openapi/v3 (`kubectl explain`, kubectl's field validation).
package main

import (
	"context"
	"io"
	"os"

	"github.com/spf13/cobra"

	"k8s.io/apiextensions-apiserver/pkg/apiserver"
	"k8s.io/apiextensions-apiserver/pkg/cmd/server/options"
	generatedopenapi "k8s.io/apiextensions-apiserver/pkg/generated/openapi"
	openapinamer "k8s.io/apiserver/pkg/endpoints/openapi"
	genericapiserver "k8s.io/apiserver/pkg/server"
	"k8s.io/apiserver/pkg/util/openapi"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/component-base/cli"
)

func main() {
	ctx := genericapiserver.SetupSignalContext()
	os.Exit(cli.Run(command(ctx, os.Stdout, os.Stderr)))
}

func command(ctx context.Context, out, errOut io.Writer) *cobra.Command {
	o := options.NewCustomResourceDefinitionsServerOptions(out, errOut)
	cmd := &cobra.Command{
		Short: "apiextensions-apiserver with discovery and OpenAPI v2 on (Tributary's tests)",
		PersistentPreRunE: func(*cobra.Command, []string) error {
			return o.ServerRunOptions.ComponentGlobalsRegistry.Set()
		},
		RunE: func(c *cobra.Command, args []string) error {
			if err := o.Complete(); err != nil {
				return err
			}
			if err := o.Validate(); err != nil {
				return err
			}
			return run(c.Context(), o)
		},
	}
	cmd.SetContext(ctx)
	o.AddFlags(cmd.Flags())
	return cmd
}

func run(ctx context.Context, o *options.CustomResourceDefinitionsServerOptions) error {
	config, err := o.Config()
	if err != nil {
		return err
	}
	defs := openapi.GetOpenAPIDefinitionsWithoutDisabledFeatures(generatedopenapi.GetOpenAPIDefinitions)
	v2 := genericapiserver.DefaultOpenAPIConfig(defs, openapinamer.NewDefinitionNamer(apiserver.Scheme, scheme.Scheme))
	v2.Info.Title = "Kubernetes"
	v2.Info.Version = "v1"
	config.GenericConfig.OpenAPIConfig = v2
	completed := config.Complete()
	completed.GenericConfig.EnableDiscovery = true
	server, err := completed.New(genericapiserver.NewEmptyDelegate())
	if err != nil {
		return err
	}
	return server.GenericAPIServer.PrepareRun().RunWithContext(ctx)
}
