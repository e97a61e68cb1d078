// Command initscope tells whether a deep ReLU net will start training, from
// the exact finite-width laws of Hanin & Rolnick (NeurIPS 2018): run
// "initscope help" for the subcommands.
package main

import "os"

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }
