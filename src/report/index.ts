/**
 * The report layer (design §7): the report's data, its terminal, JSON, CSV, Markdown and HTML
 * renderings, what `ingest`, `sample` and `stream` print, tables and progress bars.
 */
export {createProgress} from './progress.js'
export type {Progress} from './progress.js'
export {humanBytes, humanCount, renderTable} from './table.js'
export type {Column} from './table.js'
export {renderSummary} from './summary-view.js'
export {ingestWarnings, renderIngestTable} from './ingest-view.js'
export {renderStreamSummary, renderStreamWindow, renderThinning, streamDetectionLines} from './stream-view.js'
export type {StreamDetectionView, StreamSummaryView, StreamWindowView, ThinningView} from './stream-view.js'
export {renderSampledCapture, renderThinnedFlows} from './sample-view.js'
export type {SampledCaptureView, ThinnedFlowsView} from './sample-view.js'
export {makeWriter, ROW_FORMATS, writeRowStream} from './rows.js'
export type {Row, RowFormat} from './rows.js'
export {
  buildReport,
  chooseBucketSeconds,
  DEFAULT_REPORT_RUNS,
  DEFAULT_REPORT_TALKERS,
  DEFAULT_REPORT_TOP,
  DETECTION_PASS_NAMES,
  timelineSpan,
} from './report-data.js'
export type {DetectionFeature} from './detection-features.js'
export type {
  DetectionBucket,
  DetectionItem,
  DetectionPassName,
  DetectionTypeCount,
  ReportData,
  ReportOptions,
  ReportResult,
  RunItem,
  SamplingBoundPoint,
  SamplingCell,
  SpanUs,
  TopTalker,
  TrafficBucket,
} from './report-data.js'
export {DEFAULT_INCIDENTS_TOP, DEFAULT_REPORT_INCIDENTS, parseCounterparts, parseEvidence, readIncidents, SEVERITY_MAX, SEVERITY_MIN} from './incidents-data.js'
export type {IncidentEvidence, IncidentFilter, IncidentItem, IncidentList, IncidentTypeCount} from './incidents-data.js'
export {DEFAULT_TERMINAL_WIDTH, fitTable, renderIncidentsText, renderReportText, shouldColor} from './terminal-report.js'
export type {FitColumn, TerminalReportOptions} from './terminal-report.js'
export {renderIncidentsMarkdown, renderReportMarkdown} from './markdown-report.js'
export {REPORT_CSV_TABLES, renderIncidentsCsv, renderReportCsv} from './csv-report.js'
export {EMPTY_INCIDENTS, fmtConfidenceText, fmtCounterparts, fmtIncidentEntity, fmtIncidentSize, fmtIncidentWhen, fmtIncidentWhy, incidentsHeadline} from './incident-format.js'
export type {ReportCsvTable} from './csv-report.js'
export {renderReportHtml} from './html-report.js'
export {REPORT_CHARTS, renderReportCharts} from './report-charts.js'
export type {ReportChart, ReportChartName} from './report-charts.js'
export {csvCell, csvRecord, displayWidth, escapeHtml, escapeMarkdown, visible} from './escape.js'
export {writeReportFile} from './write-report-file.js'
