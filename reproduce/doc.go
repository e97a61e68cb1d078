// Package reproduce re-runs the experiments of Hanin & Rolnick, "How to
// Start Training: The Effect of Initialization and Architecture" (NeurIPS
// 2018), Figures 1-3, as sweeps of the experiment package, and turns their
// results into CSV summaries, PNG and SVG plots and a self-contained HTML
// report in which code checks each of the paper's claims. Its tasks run on
// task.Runner, which also runs users' own sweep files; the task package
// documents the params of each kind.
//
// # Sweep files
//
// A sweep file (experiment.Sweep, YAML or JSON) multiplies kinds by axes.
// testdata/example-sweep.yaml compares three initializations of a 64-wide
// MLP at two depths, in theory, by Monte Carlo and by training:
//
//	name: mlp-inits
//	kinds: [predict, probe, train]
//	fixed: {data: mnist, samples: 2000, optimizer: sgd, lr: 0.003, momentum: 0.9,
//	        batch: 128, epochs: 2, target: 0.2, eval_every: 20, eval_samples: 1000, stop_at_target: true}
//	axes:
//	  - {name: init, values: [he-normal, lecun-normal, pytorch-default]}
//	  - {name: depth, values: [10, 30]}
//	  - {name: seed, range: [1, 4]}
//	derived:
//	  arch: "fc:784-64x{depth}-10"
//
// Run it with `initscope sweep run`, on Slurm with `initscope sweep slurm`
// or on Kubernetes with `initscope sweep k8s`; `initscope sweep collect DIR`
// merges the shards into results.csv (one row per task of the grid, missing
// and failed ones included) and, for the figures' sweeps, the plots and the
// report. A results directory keeps the sweeps it ran in DIR/sweeps (see
// experiment.SweepDir), so collecting knows the grid.
//
// # The figures
//
// Plan returns a figure's sweeps; their names start with the figure's
// (fig1-probe, fig1-train, ...), which is how Render recognizes them:
//
//   - Figure 1 (FM1): fully connected nets on MNIST with width = depth (beta
//     about 1 at every depth, FM2 held fixed), initializations he-normal,
//     he-uniform, xavier2, he-truncated, glorot-normal, glorot-uniform,
//     lecun-normal and pytorch-default. (a) E[M_d]/M_0 against depth,
//     measured and theory; (b) epochs to 20% test accuracy.
//   - Figure 2 (FM2): he-normal. (a) a depth x width grid of constant-width
//     nets: heat maps of the epochs to 20% and of the measured Var[ln M_d];
//     (b) nets of equal depth and equal beta (within 1%) with constant,
//     increasing, decreasing and alternating widths, trained at learning
//     rates 0.003 and 0.001; (c) the measured E[Var_hat[M]] against the
//     exact theory and beta.
//   - Figure 3: residual nets net:N,dense32,resdense32xL:eta=ETA,dense10,
//     he-normal, eta_l = 1, 0.9^l, 0.5^l, 1/l and 1/L: (a) E[M_L]/M_0
//     against L, measured, with the exact theory for modules ending linear
//     and the theory's bounds for modules ending in a ReLU; (b) epochs to 20%
//     (ReLU-ending modules, the paper's setting) on MNIST, or on CIFAR-10
//     when Config.ImageData says so (the paper's data, whose files the user
//     must have), both as drawn and with the logits' initial weights
//     scaled by 1/sqrt of the theory's bound on E[M_L]/M_0 (sweep
//     fig3-train-scaled), which separates the paper's claim about the body
//     of the net from FM1 at the logits. The fixed input of every probe is
//     test image 0 of the figure's data set.
//
// # Verdicts
//
// Every claim is held, did not hold or inconclusive (or not checked, while
// tasks are missing), decided from 95% confidence intervals, never from a
// point estimate against a threshold: a condition passes when its interval
// lies inside the band where it holds, fails when it lies wholly outside,
// and is undecided when it straddles an edge, in which case the report says
// about how many runs would decide it. Training comparisons use the mean
// ln(epochs to 20%) over paired seeds (seed s draws the same example order
// at every point compared; a run that does not reach 20% counts at the cap,
// a lower bound) with a percentile bootstrap over the seeds; failing runs
// use Wilson intervals; probe lengths use mean ± z SE over the
// initializations with z for the claim's whole family (Bonferroni). Each
// claim's criterion, in the report and claims.json, states its bands.
//
// # Training hyperparameters
//
// The paper does not state its optimizer, learning rate, batch or epoch
// cap. All three figures use one set, identical for every initialization
// and architecture compared: SGD with momentum 0.9, learning rate 0.003,
// batch 128, a cap of 3 epochs, target 20% test accuracy, an evaluation
// every 10 steps (0.0213 epoch on MNIST, the resolution of the epochs to the
// target) on the first 1000 test images, and runs stopped at the target. It was chosen by trying: with learning rate
// 0.01 he-normal nets of depth and width 80 diverged or took 0.8 epoch in
// some runs, which 0.003 avoids, while 0.003 is still fast enough that
// 2/fan-in nets reach 20% in about 0.1-0.3 epoch at every depth tried, and
// 3 epochs leave room for LeCun and Glorot nets, which need 0.4-1.8 epochs
// at depth 5-20. Adam would partly undo FM1 (it rescales vanishing
// gradients), so it is not used. Runs that do not reach the target within
// the cap, or diverge, are reported as "not reached", never as a number.
//
// # Scales and cost
//
// Full is the reproduction: Figure 1 at depths 5-100, Figure 2 on a 5 x 5
// grid (depths 5-80, widths 10-160) and profiles of depth 40 at beta 0.5-4,
// Figure 3 up to 160 blocks, 10 paired seeds per training point (30 for the
// profiles; 5 for Figure 1's initializations off 2/fan-in, whose claim the
// share of runs reaching 20% at depth 100 decides, see offCriticalRuns).
// Quick keeps Figure 1 to depths 5-60, Figure 2 to a 3 x 3 grid and beta 1
// and 2, Figure 3 to 80 blocks, and runs 3 seeds; its hyperparameters, probe sizes and seeds
// are Full's, so its tasks are a subset of Full's and a full run in the same
// directory reuses them. Tiny checks the pipeline in seconds.
//
// Probes draw 2000 initializations per point, except Figure 2's grid, whose
// E[Var_hat] is a heavy-tailed mean: a million draws of the exact sampler
// (O(depth) each, seconds per point) estimate it up to beta about 1.
//
// Measured on 2026-12-03 on two cores with OpenBLAS and oneDNN, the default
// 2 workers: Full, 4115 tasks, in 40 minutes (4780 task-seconds, most of
// them in Figure 1's nets of depth 60-100 that train to the 3-epoch cap);
// Quick, 608 tasks, in about 5 minutes. Shards (--shard, Slurm,
// Kubernetes) split either over machines.
//
// # Outputs
//
// Render writes, in the results directory: results.csv; for Figure 1
// fig1_length.csv, fig1_epochs.csv, fig1a_length and fig1b_epochs; for
// Figure 2 fig2_grid.csv, fig2_profiles.csv, fig2a_epochs_heatmap,
// fig2a_logvar_heatmap, fig2a_epochs_beta, fig2b_profiles (and
// fig2b_profiles_lr0.001) and fig2c_empirical_variance; for Figure 3
// fig3_length.csv, fig3_epochs.csv, fig3a_length_relu,
// fig3a_length_linear, fig3b_epochs and fig3b_epochs_scaled (each plot as
// .png and .svg); claims.json; and report.html, which embeds the plots and gives
// for each claim the statement, the criterion, the verdict, the numbers, the
// settings and the seeds, with the versions, hosts and BLAS backends that
// ran the tasks.
package reproduce
