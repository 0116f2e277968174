import {Flags} from '@oclif/core'

import {BaseCommand, seedFlag} from '../base-command.js'
import {recalibrateModel, trainAndCalibrate} from '../buckets/index.js'
import type {RecalibrateResult} from '../buckets/index.js'
import {DEFAULT_FP_BUDGET} from '../infer/index.js'
import type {TrainFromStoreResult} from '../infer/index.js'
import {durationFlag, fpBudgetFlag, timeFlag, networkFlag} from '../flag-types.js'

type TrainCommandResult = TrainFromStoreResult | Omit<RecalibrateResult, 'warnings'>

export default class Train extends BaseCommand<typeof Train> {
  static summary = "Train the detection model on a network's baseline, or re-calibrate a model for another network."
  static description = `Computes the features of every (address, window) of the chosen flows, fits a dense autoencoder (22→48→24→12→24→48→22, tanh, Adam, early stopping on a held-back benign split, seeded) and exports it as ONNX with the input scaler baked in, per-feature squared reconstruction error as output, and the network's error normalisation and threshold in its metadata.

--calibrate-only keeps the weights of --model and fits only the normalisation (each feature's benign median and MAD) and the threshold (the (1 - fp-budget) quantile of benign scores) on this network's windows: how a model trained on one network transfers to another. The baseline should be traffic you believe benign.`

  static examples = [
    {description: 'Train on the last week of one network', command: '<%= config.bin %> <%= command.id %> --network lab --since 7d --out models/lab.onnx'},
    {description: 'Re-calibrate the lab model for another network', command: '<%= config.bin %> <%= command.id %> --calibrate-only --model models/lab.onnx --network branch --out models/branch.onnx'},
    {
      description: 'The bundled default model (fixtures/model.onnx) was made like this',
      command: '<%= config.bin %> gen --out benign.pcap --packets 300000 --no-attacks --seed 11 && <%= config.bin %> ingest benign.pcap --db benign.duckdb && <%= config.bin %> <%= command.id %> --db benign.duckdb --out fixtures/model.onnx',
    },
  ]

  static flags = {
    network: networkFlag({summary: 'Baseline network (tenant); all when absent.'}),
    since: timeFlag({summary: 'Baseline start (24h, 7d or ISO 8601).'}),
    until: timeFlag({summary: 'Baseline end.'}),
    out: Flags.string({char: 'o', summary: 'Model file to write.', default: 'flowscope-model.onnx'}),
    'fp-budget': fpBudgetFlag({summary: 'Share of benign address-windows allowed above the threshold.', default: DEFAULT_FP_BUDGET}),
    window: durationFlag({summary: 'Feature window (e.g. 5m).'}),
    hop: durationFlag({summary: 'Hop between windows (e.g. 1m).'}),
    'max-epochs': Flags.integer({summary: 'Upper bound on training epochs.', default: 200, min: 1}),
    seed: seedFlag,
    'no-post': Flags.boolean({summary: 'Do not fit the post-processing calibration (<out>.post.json) that analyze needs.'}),
    'calibrate-only': Flags.boolean({summary: 'Keep the weights of --model; fit only its normalisation and threshold here.', dependsOn: ['model']}),
    model: Flags.string({summary: 'Model to re-calibrate (with --calibrate-only).'}),
  }

  async run(): Promise<TrainCommandResult> {
    const f = this.flags
    const fpBudget = f['fp-budget']
    const us = (d: Date | undefined): number | undefined => (d === undefined ? undefined : d.getTime() * 1000)
    const baseline = {
      ...(f.network === undefined ? {} : {network: f.network}),
      ...(us(f.since) === undefined ? {} : {since: us(f.since)!}),
      ...(us(f.until) === undefined ? {} : {until: us(f.until)!}),
    }
    if (f['calibrate-only']) {
      const {warnings, ...r} = await recalibrateModel(f.db, {model: f.model!, ...(f.out === Train.flags.out.default ? {} : {out: f.out}), ...baseline, fpBudget})
      for (const w of warnings) this.note(w)
      this.out(
        `${r.model}: re-calibrated on ${r.rows} address-windows of ${f.network ?? 'all networks'}; threshold ${r.threshold.toFixed(3)} (was ${r.previousThreshold === null ? 'none' : r.previousThreshold.toFixed(3)}), benign above it: ${(r.fpRate * 100).toFixed(3)}%`,
      )
      return r
    }
    let lastEpoch = 0
    const {trained: r, post} = await trainAndCalibrate(f.db, {
      out: f.out,
      ...baseline,
      ...(f.window === undefined ? {} : {windowSec: f.window}),
      ...(f.hop === undefined ? {} : {hopSec: f.hop}),
      seed: f.seed,
      fpBudget,
      maxEpochs: f['max-epochs'],
      post: !f['no-post'],
      onEpoch: (e) => {
        lastEpoch = e.epoch
        if (this.showProgress) process.stderr.write(`\repoch ${e.epoch}: train ${e.trainLoss.toFixed(5)} validation ${e.validationLoss.toFixed(5)}   `)
      },
    })
    if (this.showProgress && lastEpoch > 0) process.stderr.write('\n')
    for (const w of r.warnings) this.note(w)
    if (post) this.info(`${post.path}: post-processing calibration on ${post.addresses} addresses in ${post.buckets} buckets`)
    const c = r.metadata.calibration!
    this.out(
      `${r.model}: trained on ${r.rows} address-windows of ${r.addresses} addresses in ${r.epochs} epochs (best ${r.bestEpoch}${r.stoppedEarly ? ', stopped early' : ''}); ` +
        `validation loss ${r.validationLoss.toFixed(5)}; threshold ${c.threshold.toFixed(3)} for a ${(fpBudget * 100).toFixed(2)}% false-positive budget`,
    )
    return r
  }
}
