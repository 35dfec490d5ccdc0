import { Option } from 'clipanion';
import { formatSetting, resolveKey } from '../../../lifecycle/config.ts';
import { QueueCommand } from '../base.ts';

export class ConfigGetCommand extends QueueCommand {
  static override paths = [['config', 'get']];
  static override usage = QueueCommand.Usage({
    category: 'Configuration',
    description: 'print the value of one setting, as in force (environment variables included)',
    examples: [['Print the retry limit', '$0 config get max-retries']],
  });

  key = Option.String();

  async run() {
    const key = resolveKey(this.key);
    this.out(formatSetting((await this.store.readConfig())[key]));
  }
}
