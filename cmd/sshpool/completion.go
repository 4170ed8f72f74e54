package main

import (
	"github.com/spf13/cobra"
)

const completionLong = `Print a shell completion script for bash, zsh or fish.

  bash:  source <(sshpool completion bash)
         (needs the bash-completion package; or write the script to
         /etc/bash_completion.d/sshpool)
  zsh:   sshpool completion zsh > "${fpath[1]}/_sshpool"
         (with "autoload -U compinit; compinit" in ~/.zshrc)
  fish:  sshpool completion fish > ~/.config/fish/completions/sshpool.fish`

func newCompletionCmd() *cobra.Command {
	return &cobra.Command{
		Use:       "completion bash|zsh|fish",
		Short:     "Print a shell completion script",
		Long:      completionLong,
		ValidArgs: []string{"bash", "zsh", "fish"},
		Args:      args(cobra.MatchAll(cobra.ExactArgs(1), cobra.OnlyValidArgs)),
		RunE: func(cmd *cobra.Command, a []string) error {
			root, w := cmd.Root(), cmd.OutOrStdout()
			switch a[0] {
			case "bash":
				return root.GenBashCompletionV2(w, true)
			case "zsh":
				return root.GenZshCompletion(w)
			default:
				return root.GenFishCompletion(w, true)
			}
		},
	}
}
