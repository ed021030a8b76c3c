// Bundled by scripts/build-web.mjs into web/vendor/charts.js: Chart.js with every chart type and the date-fns
// adapter its time scale needs.
import { Chart, registerables } from 'chart.js'
import 'chartjs-adapter-date-fns'

Chart.register(...registerables)

export { Chart }
