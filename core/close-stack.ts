import { messageOf } from './errors.ts'

/**
 * What a composition opened, closed in reverse order of opening. Each close runs even when an earlier one
 * fails (the failure is reported, not thrown), so one stuck part never keeps the rest open.
 */
export class CloseStack {
  private readonly closers: (() => Promise<void> | void)[] = []

  constructor(private readonly onError: (error: unknown, message: string) => void) {}

  push(close: () => Promise<void> | void): void {
    this.closers.push(close)
  }

  async closeAll(): Promise<void> {
    for (const close of this.closers.splice(0).reverse()) {
      try {
        await close()
      } catch (error) {
        this.onError(error, messageOf(error))
      }
    }
  }
}
